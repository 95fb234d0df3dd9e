"""Tag aliases, value normalization, the tag policy audit, and the [attribution] settings."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from mlcost import Warehouse
from mlcost.attribution import audit_tags, learn_tag_rules
from mlcost.attribution.tags import canonical_key, canonical_value
from mlcost.config import AttributionConfig, load_settings
from mlcost.errors import ConfigError
from tests.attribution.conftest import line, put

TEAMS = ("search", "recommendations", "llm-platform", "vision", "data-eng")
CONFIG = AttributionConfig(
    aliases={"squad": "team"},
    values={"team": {"recsys": "recommendations"}},
    allowed={"team": TEAMS, "env": ("prod", "dev")},
)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("team", "team"),  # the canonical spelling
        ("Team", "team"),  # case
        ("team_name", "team"),  # a _name suffix
        ("ModelName", "model"),  # a Name suffix, case
        ("Environment", "env"),  # a synonym
        ("SQUAD", "team"),  # a configured alias, any case
        ("cost-center", None),  # nothing the configuration knows
    ],
)
def test_key_aliases(raw: str, key: str | None) -> None:
    assert canonical_key(raw, CONFIG) == key


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("Search", "search"),  # case
        ("dataeng", "data-eng"),  # punctuation
        ("ml-search", "search"),  # a prefix before an allowed value
        ("llm", "llm-platform"),  # the one allowed value it starts
        ("recsys", "recommendations"),  # configured
        ("Finance", "finance"),  # unknown: folded, left for the audit to report
    ],
)
def test_value_normalization(raw: str, value: str) -> None:
    assert canonical_value(raw, "team", CONFIG) == value


def test_audit_lists_untagged_and_non_compliant_spend_worst_first(wh: Warehouse) -> None:
    # 60.00 fully tagged; 25.00 with no tags at all; 10.00 with an unknown team and no env;
    # 5.00 whose only tag is a team spelled another way.
    full = {"team": "search", "project": "p", "model": "m", "env": "prod"}
    put(
        wh,
        "cost_line_items",
        [
            line("60.00", resource="ok", tags=full),
            line("25.00", resource="bare"),
            line("10.00", resource="odd", tags={**full, "team": "finance", "env": "qa"}),
            line("5.00", resource="half", tags={"team_name": "ML-Search"}),
        ],
    )
    audit = audit_tags(wh, CONFIG)
    assert [(r.resource, r.status) for r in audit.rows] == [
        ("bare", "untagged"),
        ("odd", "non-compliant"),
        ("half", "non-compliant"),
    ]
    assert audit.rows[1].invalid == ("team=finance", "env=qa")
    assert audit.rows[2].missing == ("project", "model", "env")
    assert (audit.untagged, audit.non_compliant) == (Decimal("25.00"), Decimal("15.00"))
    assert audit.owner_missing_share == 0.25
    assert learn_tag_rules(wh, CONFIG).values["team"]["ML-Search"] == "search"


def test_attribution_settings_are_checked_and_name_the_file(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "home")}
    good = """
[attribution]
owner = "team"
[attribution.aliases]
team_name = "team"
[[attribution.shared]]
name = "support"
match = { ServiceName = "Support" }
method = "fixed"
weights = { search = 1 }
"""
    (tmp_path / "mlcost.toml").write_text(good)
    config = load_settings(env=env, cwd=tmp_path).attribution
    assert config.aliases == {"team_name": "team"}
    assert config.shared[0].match == {"ServiceName": ("Support",)}
    # An unknown key, a wrong method and a fixed rule without weights: each names the file.
    for bad, message in [
        ("[attribution]\nownr = 'team'\n", r"mlcost.toml: unknown key\(s\) ownr"),
        (
            "[[attribution.shared]]\nmethod = 'random'\nunowned = true\n",
            r"mlcost.toml: attribution.shared\[0\].method is 'random'",
        ),
        (
            "[[attribution.shared]]\nmethod = 'fixed'\nunowned = true\n",
            r"mlcost.toml: .* no positive weights",
        ),
    ]:
        (tmp_path / "mlcost.toml").write_text(bad)
        with pytest.raises(ConfigError, match=message):
            load_settings(env=env, cwd=tmp_path)
    # No [attribution] table: the defaults (owner team, the four required keys).
    (tmp_path / "mlcost.toml").write_text('warehouse = "x.duckdb"\n')
    assert load_settings(env=env, cwd=tmp_path).attribution == AttributionConfig()
