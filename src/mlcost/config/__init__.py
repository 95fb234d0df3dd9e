"""Settings: one typed object, and the documented order in which it is assembled.

Precedence, lowest first: built-in defaults < user config file
(``$XDG_CONFIG_HOME/mlcost/config.toml``) < project ``mlcost.toml`` (the current directory or
the nearest parent that has one) < ``MLCOST_*`` environment variables < explicit arguments
(``--warehouse`` on the command line).

The ``[attribution]`` table (tag aliases, value normalization, tag policy, account owners and
shared-cost rules, see docs/attribution.md) is read from the same files; a project file's table
replaces the user file's as a whole. So do ``[budgets.<name>]``, ``[notify.channels.<name>]``,
``[policies.<name>]``, ``[owners.<name>]`` and ``[watch]`` (see docs/budgets.md): each is
taken whole from the highest layer that has it.

Example::

    >>> from mlcost.config import load_settings
    >>> load_settings(warehouse="duckdb:///tmp/example.duckdb", env={}).warehouse
    'duckdb:///tmp/example.duckdb'

The package: ``_settings`` (the :class:`Settings` object, file reading and precedence),
``_paths`` (every default location: data dir, user and project files, catalog, spool),
``_validate`` (the checks every section shares), ``_redact`` (secrets out of every message:
:func:`redact_url`, :func:`redact`) and one module per section: ``_attribution``,
``_budgets``, ``_channels`` (``[notify]``), ``_policies``, ``_watch``, ``_spark``. Every name
is imported from here, ``mlcost.config``.
"""

from mlcost.config._attribution import (
    DEFAULT_REQUIRED_TAGS,
    SHARED_BASES,
    SHARED_METHODS,
    AttributionConfig,
    SharedRule,
    parse_attribution,
)
from mlcost.config._budgets import BUDGET_PERIODS, BudgetConfig, parse_budgets
from mlcost.config._channels import CHANNEL_KINDS, ChannelConfig, parse_channels
from mlcost.config._paths import (
    PROJECT_FILE,
    catalog_home,
    data_dir,
    find_project_file,
    spool_dir,
    user_config_file,
)
from mlcost.config._policies import (
    DEFAULT_KEEP_TAG,
    DEFAULT_PROTECT_TAG,
    POLICY_KINDS,
    OwnerConfig,
    PolicyConfig,
    WorkingHours,
    parse_duration,
    parse_owners,
    parse_policies,
    parse_working_hours,
)
from mlcost.config._redact import redact, redact_url
from mlcost.config._settings import (
    DEFAULT_MEMORY_LIMIT,
    Settings,
    default_warehouse_url,
    load_settings,
)
from mlcost.config._spark import spark_url
from mlcost.config._watch import SourceConfig, WatchConfig, parse_watch

__all__ = [
    "BUDGET_PERIODS",
    "CHANNEL_KINDS",
    "DEFAULT_KEEP_TAG",
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_PROTECT_TAG",
    "DEFAULT_REQUIRED_TAGS",
    "POLICY_KINDS",
    "PROJECT_FILE",
    "SHARED_BASES",
    "SHARED_METHODS",
    "AttributionConfig",
    "BudgetConfig",
    "ChannelConfig",
    "OwnerConfig",
    "PolicyConfig",
    "Settings",
    "SharedRule",
    "SourceConfig",
    "WatchConfig",
    "WorkingHours",
    "catalog_home",
    "data_dir",
    "default_warehouse_url",
    "find_project_file",
    "load_settings",
    "parse_attribution",
    "parse_budgets",
    "parse_channels",
    "parse_duration",
    "parse_owners",
    "parse_policies",
    "parse_watch",
    "parse_working_hours",
    "redact",
    "redact_url",
    "spark_url",
    "spool_dir",
    "user_config_file",
]
