"""What Acme's platform team writes in its ``mlcost.toml``: teams, tag policy, shared rules,
monthly budgets, the file channel their alerts go to, and the seed's guardrails (idle GPUs
stopped outside working hours after a day's notice, a maximum duration for training jobs, a
GPU cap per team, required tags).

The demo writes this next to its warehouse. It names the organization's teams and the two
team nicknames no heuristic could guess (``recsys``, ``asr``); every other spelling in the
bill (``Search``, ``ml-search``, ``LLM-Platform``, ``llm``, ``cv-vision``, ``dataeng``,
``Team``, ``team_name``) is left to mlcost's normalization heuristics.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from mlcost.config import (
    AttributionConfig,
    BudgetConfig,
    ChannelConfig,
    OwnerConfig,
    PolicyConfig,
    parse_attribution,
    parse_budgets,
    parse_channels,
    parse_owners,
    parse_policies,
)

DEMO_CONFIG_TOML = """\
# mlcost configuration of the fictional Acme ML organization (written by `mlcost demo`).
[mlcost]
warehouse = "warehouse.duckdb"

[attribution]
owner = "team"
required = ["project", "team", "model", "env"]

[attribution.aliases]
account = "team"          # Slurm accounts are named after teams

[attribution.values.team]
recsys = "recommendations"
asr = "speech"

[attribution.allowed]
team = ["search", "recommendations", "llm-platform", "vision", "data-eng", "speech"]
env = ["prod", "staging", "dev"]

# The OpenAI project search calls the API from (its bill has no tags): owned like an account.
[attribution.accounts.proj_search_assist]
team = "search"

# The Kubernetes control planes serve every team's GPU pods: spread by GPU-hours.
[[attribution.shared]]
name = "kubernetes-control-plane"
match = { ServiceName = ["Amazon Elastic Kubernetes Service", "Kubernetes Engine"] }
method = "proportional"
basis = "gpu_hours"

# Support and tax follow what each team spends.
[[attribution.shared]]
name = "support-and-tax"
match = { ServiceName = ["AWS Support (Business)", "Tax"] }
method = "proportional"

# The untagged Azure file share is used by the two teams that run on Azure, evenly.
[[attribution.shared]]
name = "azure-shared-storage"
match = { ServiceName = "Storage", ServiceProviderName = "Microsoft Azure" }
method = "even"
owners = ["search", "vision"]

# The GCP credit was negotiated for vision's training; a little goes to data-eng's pipelines.
[[attribution.shared]]
name = "gcp-credit"
match = { ChargeCategory = "Credit", ServiceProviderName = "Google Cloud" }
method = "fixed"
weights = { vision = 9, data-eng = 1 }


# The p4d reservation was bought for llm-platform's research cluster.
[[attribution.shared]]
name = "p4d-reservation"
match = { ChargeCategory = "Purchase", ServiceName = "Amazon Elastic Compute Cloud" }
method = "fixed"
weights = { llm-platform = 1 }

# Monthly budgets per team (USD, EffectiveCost), scoped by owner: attribution's owner of each
# dollar, whatever spelling of the team tag the bill used and whatever the workloads on a
# resource inherited. A budget counts the team's direct cost; llm-platform's also counts its
# share of the shared costs (the p4d reservation was bought for it) with basis = "total".
[budgets.llm-platform]
scope = { owner = "llm-platform" }
basis = "total"
amount = 200000
currency = "USD"
channels = ["alerts-file"]

[budgets.vision]
scope = { owner = "vision" }
amount = 40000
currency = "USD"
channels = ["alerts-file"]

[budgets.recommendations]
scope = { owner = "recommendations" }
amount = 18000
currency = "USD"
channels = ["alerts-file"]

[budgets.search]
scope = { owner = "search" }
amount = 20000
currency = "USD"
channels = ["alerts-file"]

# Alerts as JSON lines in a file beside this one (a webhook, Slack or email in real life).
[notify.channels.alerts-file]
kind = "file"
path = "alerts.jsonl"

# Guardrails. `mlcost policies check` shows what they would do; `mlcost policies enforce`
# marks each new violation with a deadline and tells its owner (the notice says how to keep
# the resource: `mlcost policies exempt`); past the deadline, `--execute` acts if the
# violation still holds. Production (tag env = prod) is out of idle shutdown.
[owners.vision]
channels = ["alerts-file"]

[owners.llm-platform]
channels = ["alerts-file"]

# GPUs idle (at most 5% for 2 hours) on nights and weekends: stopped after a day's notice.
[policies.idle-off-hours]
kind = "idle"
max_utilization = 0.05
minutes = 120
working_hours = "Mon-Fri 08:00-19:00"
timezone = "UTC"
grace = "24h"
action = "stop"
executor = "aws-ec2"
channels = ["alerts-file"]

# Training jobs have a maximum duration; past it, Slurm cancels them after 2 hours' notice.
[policies.training-max-duration]
kind = "max-duration"
max_hours = { training = 72, fine-tuning = 48 }
grace = "2h"
action = "scancel"
executor = "slurm"
channels = ["alerts-file"]

# A GPU cap per team (GPUs billed in the latest hour): the newest resources over it.
[policies.gpu-cap]
kind = "max-gpus"
max_gpus = { llm-platform = 64, "*" = 16 }
grace = "24h"
action = "stop"
channels = ["alerts-file"]

# GPU resources must carry team, project and env within a day of starting.
[policies.required-tags]
kind = "required-tags"
tags = ["team", "project", "env"]
hours = 24
grace = "48h"
action = "stop"
channels = ["alerts-file"]
"""


def demo_budgets(folder: Path) -> tuple[tuple[BudgetConfig, ...], dict[str, ChannelConfig]]:
    """The demo's budgets and channels, file paths resolved in ``folder``."""
    data = tomllib.loads(DEMO_CONFIG_TOML)
    where = str(folder / "mlcost.toml")
    return parse_budgets(data["budgets"], where=where), parse_channels(data["notify"], where=where)


def demo_attribution() -> AttributionConfig:
    """The demo organization's ``[attribution]`` settings."""
    return parse_attribution(tomllib.loads(DEMO_CONFIG_TOML)["attribution"], where="demo")


def demo_policies() -> tuple[tuple[PolicyConfig, ...], dict[str, OwnerConfig]]:
    """The demo organization's guardrails and owners."""
    data = tomllib.loads(DEMO_CONFIG_TOML)
    return parse_policies(data["policies"], where="demo"), parse_owners(data["owners"])
