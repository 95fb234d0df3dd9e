"""Scopes (environment, owner, resource type, owners' working hours and zones), keep tags,
exemptions and the policy settings that declare them (issue 21)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mlcost import Warehouse
from mlcost.attribution.model import refresh
from mlcost.config import AttributionConfig, load_settings, parse_owners, parse_policies
from mlcost.errors import ConfigError, InvalidInput
from mlcost.policies import check, exempt, review
from tests.attribution.conftest import line, put, sample

CONFIG = AttributionConfig(owner="team")
# name -> (tags, instance type); each idle for the first 24 hours of T0 (a Thursday).
FLEET = {
    "i-0000000000000000a": ({"team": "berlin", "env": "dev"}, "g5.xlarge"),
    "i-0000000000000000b": ({"team": "tokyo", "env": "dev"}, "g5.xlarge"),
    "i-0000000000000000c": ({"team": "berlin", "Environment": "Production"}, "g5.xlarge"),
    "i-0000000000000000d": ({"team": "berlin", "env": "dev"}, "p4d.24xlarge"),
}


@pytest.fixture
def fleet(wh: Warehouse) -> Warehouse:
    put(
        wh,
        "cost_line_items",
        [
            line("1.00", resource=r, start=h, gpus=1, tags=tags, x_InstanceType=itype)
            for r, (tags, itype) in FLEET.items()
            for h in range(24)
        ],
    )
    put(wh, "gpu_samples", [sample(r, m / 6, 0.01) for r in FLEET for m in range(24 * 6 + 1)])
    refresh(wh, CONFIG)  # the owner model: who owns each instance
    return wh


def _flagged(wh: Warehouse, at: datetime, owner_toml: str = "", **policy: object) -> set[str]:
    table = {"kind": "idle", "minutes": 60, **policy}
    found = check(
        wh,
        parse_policies({"p": table}),
        now=at,
        attribution=CONFIG,
        owners=parse_owners(_owners(owner_toml)),
    )
    return {v.resource_id for v in found}


def _owners(text: str) -> dict[str, object]:
    import tomllib

    return tomllib.loads(text)


def test_production_is_out_unless_the_policy_names_it(fleet: Warehouse) -> None:
    at = datetime(2026, 10, 1, 12)
    # "Environment = Production": any key case and value case is production.
    assert "i-0000000000000000c" not in _flagged(fleet, at)
    assert _flagged(fleet, at, environments=["production"]) == {"i-0000000000000000c"}
    assert _flagged(fleet, at, environments=["dev", "production"]) == set(FLEET)


def test_owner_and_resource_type_scopes(fleet: Warehouse) -> None:
    at = datetime(2026, 10, 1, 12)
    assert _flagged(fleet, at, owners=["tokyo"]) == {"i-0000000000000000b"}
    assert _flagged(fleet, at, resource_types=["p4d.*"]) == {"i-0000000000000000d"}


def test_each_owner_has_its_own_working_hours_and_zone(fleet: Warehouse) -> None:
    hours = {"working_hours": "Mon-Fri 08:00-19:00", "timezone": "UTC"}
    owners = '[tokyo]\ntimezone = "Asia/Tokyo"\n[berlin]\ntimezone = "Europe/Berlin"\n'
    # 12:00 UTC Thursday: 14:00 in Berlin (working), 21:00 in Tokyo (off hours).
    assert _flagged(fleet, datetime(2026, 10, 1, 12), owners, **hours) == {"i-0000000000000000b"}
    # 06:30 UTC: 08:30 in Berlin (working), 15:30 in Tokyo (working): nothing.
    assert _flagged(fleet, datetime(2026, 10, 1, 6, 30), owners, **hours) == set()
    # Only nights and weekends, Berlin's own hours: 18:00 UTC is 20:00 there, off hours.
    night = '[berlin]\nworking_hours = "Mon-Fri 09:00-17:00"\ntimezone = "Europe/Berlin"\n'
    found = _flagged(fleet, datetime(2026, 10, 1, 16), night, **hours)
    assert {"i-0000000000000000a", "i-0000000000000000d"} <= found


def test_keep_until_tag_and_exemptions_keep_a_resource(fleet: Warehouse) -> None:
    put(
        fleet,
        "cost_line_items",
        [
            line(
                "1.00",
                resource="i-0000000000000000e",
                start=h,
                gpus=1,
                tags={"team": "tokyo", "env": "dev", "mlcost:keep-until": "2026-10-02"},
            )
            for h in range(72)
        ],
    )
    put(fleet, "gpu_samples", [sample("i-0000000000000000e", m / 6, 0.0) for m in range(433)])
    policies = parse_policies({"p": {"kind": "idle", "grace": "24h"}})

    def decisions(at: datetime) -> dict[str, str]:
        found = review(fleet, policies, now=at, attribution=CONFIG)
        return {d.violation.resource_id: d.decision for d in found}

    at = datetime(2026, 10, 1, 12)
    assert decisions(at)["i-0000000000000000e"] == "exempt"  # through 2026-10-02
    assert decisions(at + timedelta(days=2))["i-0000000000000000e"] != "exempt"
    row = exempt(
        fleet, "i-0000000000000000a", until=at + timedelta(hours=1), reason="demo", actor_name="t"
    )
    assert row.resource_id == "i-0000000000000000a"
    assert decisions(at)["i-0000000000000000a"] == "exempt"
    assert decisions(at + timedelta(hours=1))["i-0000000000000000a"] == "marked"
    with pytest.raises(InvalidInput, match="no billed resource"):
        exempt(fleet, "vision-dev-bigg", until=None, reason="x")
    with pytest.raises(InvalidInput, match="needs a reason"):
        exempt(fleet, "i-0000000000000000a", until=None, reason=" ")


def test_grace_owners_and_scopes_are_validated_naming_the_file(tmp_path: Path) -> None:
    (p,) = parse_policies({"p": {"kind": "idle", "grace": "36h", "environments": ["dev"]}})
    assert p.grace == timedelta(hours=36) and p.environments == ("dev",)
    assert parse_policies({"p": {"kind": "idle"}})[0].grace == timedelta(0)  # act at once
    cases = {
        '[policies.p]\nkind = "idle"\ngrace = "a day"\n': 'write a duration such as "24h"',
        '[policies.p]\nkind = "idle"\nchannels = ["nope"]\n': "policies.p.channels names",
        '[owners.vision]\nchannels = ["nope"]\n': "owners.vision.channels names",
        '[owners.vision]\ntimezone = "Mars/Olympus"\n': "not an IANA zone",
        '[owners.vision]\nchanels = ["x"]\n': "Did you mean channels",
    }
    for body, message in cases.items():
        toml = tmp_path / "mlcost.toml"
        toml.write_text(body)
        with pytest.raises(ConfigError, match=message) as err:
            load_settings(env={"HOME": str(tmp_path)}, cwd=tmp_path)
        assert str(toml) in str(err.value)


def test_check_reads_a_file_an_older_mlcost_wrote(tmp_path: Path) -> None:
    from mlcost import open_warehouse

    url = f"duckdb://{tmp_path / 'old.duckdb'}"
    with open_warehouse(url, migrate_to=11) as old:  # before policy_marks
        put(old, "gpu_samples", [sample("i-0000000000000000a", m / 6, 0.0) for m in range(13)])
    with open_warehouse(url, read_only=True) as wh:
        (d,) = review(wh, parse_policies({"p": {"kind": "idle", "grace": "1h"}}))
    assert d.decision == "marked"
