"""Settings precedence: defaults < user config < project mlcost.toml < environment < argument."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlcost.config import load_settings
from mlcost.errors import ConfigError


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), **extra}


def test_default_is_the_xdg_data_dir(tmp_path: Path) -> None:
    s = load_settings(env=_env(tmp_path), cwd=tmp_path)
    assert s.warehouse == f"duckdb://{tmp_path}/home/.local/share/mlcost/warehouse.duckdb"
    assert s.sources["warehouse"] == "default"
    s = load_settings(env=_env(tmp_path, XDG_DATA_HOME="/data"), cwd=tmp_path)
    assert s.warehouse == "duckdb:///data/mlcost/warehouse.duckdb"


def test_every_default_location_follows_the_environment(tmp_path: Path) -> None:
    from mlcost.config import catalog_home, data_dir, find_project_file, user_config_file

    home = {"HOME": "/h"}
    assert data_dir(home) == Path("/h/.local/share/mlcost")
    assert user_config_file(home) == Path("/h/.config/mlcost/config.toml")
    assert user_config_file({**home, "XDG_CONFIG_HOME": "/c"}) == Path("/c/mlcost/config.toml")
    assert catalog_home({**home, "XDG_DATA_HOME": "/x"}) == Path("/x/mlcost/catalog")
    assert catalog_home({**home, "MLCOST_CATALOG_DIR": "/cat"}) == Path("/cat")
    (tmp_path / "repo" / "a" / "b").mkdir(parents=True)
    assert find_project_file(tmp_path / "repo" / "a" / "b") is None
    (tmp_path / "repo" / "mlcost.toml").write_text("")
    assert find_project_file(tmp_path / "repo" / "a" / "b") == tmp_path / "repo" / "mlcost.toml"


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    user = tmp_path / "home" / ".config" / "mlcost" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text('warehouse = "duckdb:///user.duckdb"\n')
    project = tmp_path / "repo"
    (project / "sub").mkdir(parents=True)
    env = _env(tmp_path)
    assert load_settings(env=env, cwd=project / "sub").warehouse == "duckdb:///user.duckdb"
    # The project file is found from a subfolder, and beats the user file.
    (project / "mlcost.toml").write_text('[mlcost]\nwarehouse = "duckdb:///project.duckdb"\n')
    assert load_settings(env=env, cwd=project / "sub").warehouse == "duckdb:///project.duckdb"
    env["MLCOST_WAREHOUSE"] = "duckdb:///env.duckdb"
    assert load_settings(env=env, cwd=project / "sub").warehouse == "duckdb:///env.duckdb"
    s = load_settings(warehouse="duckdb:///arg.duckdb", env=env, cwd=project / "sub")
    assert (s.warehouse, s.sources["warehouse"]) == ("duckdb:///arg.duckdb", "argument")


def test_bad_config_files_say_which_file_and_what(tmp_path: Path) -> None:
    (tmp_path / "mlcost.toml").write_text("warehouse = \n")
    with pytest.raises(ConfigError, match=r"mlcost.toml: not valid TOML"):
        load_settings(env=_env(tmp_path), cwd=tmp_path)
    (tmp_path / "mlcost.toml").write_text('warehous = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) warehous"):
        load_settings(env=_env(tmp_path), cwd=tmp_path)


def test_memory_limit_default_file_and_environment(tmp_path: Path) -> None:
    assert load_settings(env=_env(tmp_path), cwd=tmp_path).memory_limit == "1GB"
    (tmp_path / "mlcost.toml").write_text('memory_limit = "4GB"\n')
    assert load_settings(env=_env(tmp_path), cwd=tmp_path).memory_limit == "4GB"
    env = _env(tmp_path, MLCOST_MEMORY_LIMIT="2GB")
    s = load_settings(env=env, cwd=tmp_path)
    assert (s.memory_limit, s.sources["memory_limit"]) == ("2GB", "environment MLCOST_MEMORY_LIMIT")


def test_a_spark_section_becomes_a_spark_warehouse_url(tmp_path: Path) -> None:
    from mlcost.warehouse import parse_spark_url

    (tmp_path / "mlcost.toml").write_text(
        '[spark]\nmaster = "local[2]"\nwarehouse_dir = "spark-wh"\ndatabase = "finops"\n'
        '[spark.conf]\n"spark.driver.memory" = "4g"\n'
    )
    s = load_settings(env=_env(tmp_path), cwd=tmp_path)
    settings = parse_spark_url(s.warehouse)
    assert settings.master == "local[2]"
    assert settings.warehouse_dir == str(tmp_path / "spark-wh")  # relative to the file
    assert (settings.database, settings.table_format) == ("finops", "parquet")
    assert settings.conf == {"spark.driver.memory": "4g"}
    # A cluster master, inside [mlcost].
    (tmp_path / "mlcost.toml").write_text(
        '[mlcost.spark]\nmaster = "spark://head:7077"\nformat = "delta"\n'
    )
    s = load_settings(env=_env(tmp_path), cwd=tmp_path)
    assert s.warehouse == "spark://head:7077?format=delta"
    assert parse_spark_url(s.warehouse).master == "spark://head:7077"


def test_bad_spark_sections_say_what_to_write(tmp_path: Path) -> None:
    cases = {
        '[spark]\nwarehouse_dir = "x"\n': r"\[spark\] needs master",
        '[spark]\nmaster = "local[2]"\nmemory = "4g"\n': r"unknown \[spark\] setting\(s\) memory",
        'warehouse = "duckdb:///a.duckdb"\n[spark]\nmaster = "local"\n': r"both 'warehouse'",
        '[spark]\nmaster = "local"\nconf = { "driver.memory" = "4g" }\n': r"spark\.\* settings",
    }
    for text, message in cases.items():
        (tmp_path / "mlcost.toml").write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_settings(env=_env(tmp_path), cwd=tmp_path)


def test_budgets_channels_and_policies_tables(tmp_path: Path) -> None:
    (tmp_path / "mlcost.toml").write_text(
        """
[budgets.vision]
scope = { team = "vision", ServiceName = ["Amazon EC2", "Amazon S3"] }
amount = 5000.50
currency = "usd"
channels = ["log"]

[notify.channels.log]
kind = "file"
path = "alerts.jsonl"

[policies.idle-gpu]
kind = "idle"
minutes = 30
"""
    )
    s = load_settings(env=_env(tmp_path), cwd=tmp_path)
    (b,) = s.budgets
    assert (str(b.amount), b.currency, b.period, b.thresholds) == (
        "5000.5",
        "USD",
        "monthly",
        (0.75, 0.9, 1.0),
    )
    assert b.scope == {"tag:team": ("vision",), "ServiceName": ("Amazon EC2", "Amazon S3")}
    assert s.channels["log"].path == str(tmp_path / "alerts.jsonl")  # beside the file
    assert (s.policies[0].minutes, s.policies[0].protect_tag) == (30, "mlcost:protect")
    assert s.sources["budgets"] == f"project {tmp_path / 'mlcost.toml'}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[notify.channels.x]\nkind = "webhook"\nurl = "http://h"\nretry = 2\n',
            r"unknown key\(s\) retry in \[notify.channels.x\]",
        ),
        ('[notify.channels.x]\nkind = "pager"\n', "choose one of webhook, slack, email, file"),
        ('[notify.channels.x]\nkind = "slack"\n', r"\(slack\) needs url"),
        ('[policies.p]\nkind = "idle"\nminutes = -5\n', "minutes must be a number >= 1"),
        ('[policies.p]\nkind = "nap"\n', "supported now: idle"),
    ],
)
def test_bad_budget_tables_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "mlcost.toml").write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_settings(env=_env(tmp_path), cwd=tmp_path)
    assert str(tmp_path / "mlcost.toml") in str(err.value)


# --- issue 22: what the attack run found ----------------------------------------------------


def _cli(*args: str, cwd: Path, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # The installed command as a user runs it: no MLCOST_* from the test's environment.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLCOST_", "XDG_"))}
    full = {**clean, "HOME": str(home), "COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, "-m", "mlcost.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full,
        check=False,
    )


def test_a_relative_warehouse_is_beside_the_config_file_from_a_subfolder(tmp_path: Path) -> None:
    from mlcost.testing import write_focus_file

    project = tmp_path / "repo"
    (project / "notebooks" / "deep").mkdir(parents=True)
    (project / "mlcost.toml").write_text('warehouse = "data/wh.duckdb"\n')
    bill = write_focus_file(tmp_path / "may.csv", 20)
    out = _cli("ingest", "focus", str(bill), cwd=project / "notebooks" / "deep", home=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (project / "data" / "wh.duckdb").is_file()  # the one beside mlcost.toml
    assert not (project / "notebooks" / "deep" / "data").exists()  # no second warehouse
    # Run again from the project root: the same warehouse, so the file is already loaded.
    again = _cli("ingest", "focus", str(bill), cwd=project, home=tmp_path)
    assert "Already loaded" in again.stdout, again.stdout + again.stderr
    # The duckdb:// form too; the environment and --warehouse stay relative to the caller.
    (project / "mlcost.toml").write_text('warehouse = "duckdb://data/wh.duckdb"\n')
    s = load_settings(env=_env(tmp_path), cwd=project / "notebooks")
    assert s.warehouse == f"duckdb://{project}/data/wh.duckdb"
    s = load_settings(env=_env(tmp_path, MLCOST_WAREHOUSE="rel.duckdb"), cwd=project)
    assert s.warehouse == "rel.duckdb"


INJECTION = "1GB'; COPY (SELECT 42) TO '{out}'; --"


def test_memory_limit_is_a_size_never_sql(tmp_path: Path) -> None:
    from mlcost.warehouse import open_warehouse

    out = tmp_path / "x.csv"
    evil = INJECTION.format(out=out)
    (tmp_path / "mlcost.toml").write_text(f'memory_limit = "{evil}"\n')
    with pytest.raises(ConfigError, match=r"memory_limit is .* not a size") as err:
        load_settings(env=_env(tmp_path), cwd=tmp_path)
    assert str(tmp_path / "mlcost.toml") in str(err.value)
    (tmp_path / "mlcost.toml").unlink()
    with pytest.raises(ConfigError, match="environment MLCOST_MEMORY_LIMIT: memory_limit"):
        load_settings(env=_env(tmp_path, MLCOST_MEMORY_LIMIT=evil), cwd=tmp_path)
    # Through the command: exit 2, a message, no traceback, nothing written.
    run = _cli("spend", cwd=tmp_path, home=tmp_path, MLCOST_MEMORY_LIMIT=evil)
    assert run.returncode == 2 and "not a size" in run.stderr and "Traceback" not in run.stderr
    # The warehouse passes the value as a parameter, whoever calls it.
    with pytest.raises(ConfigError):
        open_warehouse(str(tmp_path / "w.duckdb"), memory_limit=evil)
    assert not out.exists()
    # DuckDB's own forms still load: powers of 1000 and of 1024, any case, a space.
    for size in ("512MB", "4GiB", "1.5gb", "2 TB"):
        s = load_settings(env=_env(tmp_path, MLCOST_MEMORY_LIMIT=size), cwd=tmp_path)
        assert s.memory_limit == size


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("hooks.slack.com/services/T0/B0/tok3n", "no scheme"),
        ("file:///var/log/alerts.jsonl", "'file:///…'"),
        ("ftp://hooks.example.com/tok3n", "'ftp://hooks.example.com/…'"),
        ("https:///tok3n", "'https:///…'"),
    ],
)
def test_a_webhook_url_that_cannot_be_posted_to_is_refused_at_load(
    tmp_path: Path, url: str, shown: str
) -> None:
    (tmp_path / "mlcost.toml").write_text(
        f'[notify.channels.team]\nkind = "slack"\nurl = "{url}"\n'
    )
    with pytest.raises(ConfigError, match=r"notify\.channels\.team\.url must be an http") as err:
        load_settings(env=_env(tmp_path), cwd=tmp_path)
    assert str(tmp_path / "mlcost.toml") in str(err.value) and shown in str(err.value)
    assert "tok3n" not in str(err.value)  # the token never reaches a message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[polices.idle]\nkind = "idle"\n',
            r"unknown table\(s\) \[polices\]\. Did you mean policies",
        ),
        (
            '[budget.vision]\namount = 5\ncurrency = "USD"\n',
            r"unknown table\(s\) \[budget\]\. Did you mean budgets",
        ),
        # Beside an [mlcost] table, a stray table was ignored before.
        ('[mlcost]\nmemory_limit = "1GB"\n[polices.idle]\nkind = "idle"\n', r"\[polices\]"),
        ('warehous = "x.duckdb"\n', r"unknown setting\(s\) warehous\. Did you mean warehouse"),
        (
            '[budgets.v]\namount = -500\ncurrency = "USD"\n',
            r"budgets\.v\.amount must be a number above 0",
        ),
        ('[budgets.v]\namount = nan\ncurrency = "USD"\n', r"budgets\.v\.amount must be a number"),
        (
            '[budgets.v]\namount = 5\ncurrency = "USD"\nthresholds = [-0.5, 1.0]\n',
            r"budgets\.v\.thresholds must be a number >= 0, got -0\.5",
        ),
        (
            '[budgets.v]\namount = 5\ncurrency = "USD"\nforecast_thresholds = [inf]\n',
            r"budgets\.v\.forecast_thresholds must be a number >= 0, got inf",
        ),
        (
            '[budgets.v]\namount = 5\ncurrency = "USD"\nchannels = ["slak"]\n'
            '[notify.channels.slack]\nkind = "file"\npath = "a.jsonl"\n',
            r"budgets\.v\.channels names channel\(s\) slak that no .* Did you mean slack",
        ),
        (
            '[watch]\ninsight_min_impact = 10\ninsight_channels = ["ops"]\n',
            r"watch\.insight_channels names channel\(s\) ops .* Defined: none",
        ),
        (
            '[notify.channels.m]\nkind = "email"\nto = "a@x.org\\nBcc: b@y.org"\n',
            r"notify\.channels\.m\.to: 'a@x\.org\\nBcc: b@y\.org' is not one email address",
        ),
        (
            '[policies.cap]\nkind = "budget"\nbudget = "visoin"\n'
            '[budgets.vision]\namount = 5\ncurrency = "USD"\n',
            r"policies\.cap\.budget names 'visoin'.* Did you mean vision",
        ),
    ],
)
def test_config_typos_and_invalid_values_are_refused_at_load(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "mlcost.toml").write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_settings(env=_env(tmp_path), cwd=tmp_path)
    assert str(tmp_path / "mlcost.toml") in str(err.value)


def test_a_rejected_warehouse_url_is_echoed_without_its_password(tmp_path: Path) -> None:
    url = "postgresql://finops:hunter2-s3cret@db.internal:5432/mlcost"
    run = _cli("--warehouse", url, "spend", cwd=tmp_path, home=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "postgresql://finops:…@db.internal:5432/mlcost" in run.stderr
    assert "hunter2" not in run.stderr + run.stdout
