"""Idle shutdown only outside working hours, in the policy's time zone."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from mlcost import Warehouse
from mlcost.config import PolicyConfig, load_settings, parse_policies
from mlcost.errors import ConfigError
from mlcost.policies import check
from tests.attribution.conftest import T0, put, sample

# 2026-10-01 is a Thursday; Berlin is on CEST (UTC+2) until 2026-10-25, then CET (UTC+1).
HOURS = {"working_hours": "Mon-Fri 08:00-19:00", "timezone": "Europe/Berlin"}


def _idle(wh: Warehouse, start: datetime, hours: float) -> None:
    """One GPU at 1% from ``start`` (UTC) for ``hours``, a sample every 10 minutes."""
    base = (start - T0).total_seconds() / 3600
    steps = int(hours * 6)
    put(
        wh,
        "gpu_samples",
        [sample("i-0aaaaaaaaaaaaaaa1", base + m / 6, 0.01) for m in range(steps + 1)],
    )


def _policy(**extra: str) -> tuple[PolicyConfig, ...]:
    return parse_policies({"night": {"kind": "idle", "minutes": 60, **HOURS, **extra}})


def test_idle_gpu_is_left_alone_until_working_hours_end(wh: Warehouse) -> None:
    _idle(wh, datetime(2026, 10, 1, 14), 4.5)  # Thursday 16:00-20:30 Berlin, idle throughout
    policies = _policy()
    # 18:59 Berlin (16:59 UTC): still working hours, idle for two hours but not a violation.
    assert check(wh, policies, now=datetime(2026, 10, 1, 16, 59)) == []
    # 19:00 Berlin: hours over (end exclusive); idle for the whole last hour: stop it.
    (v,) = check(wh, policies, now=datetime(2026, 10, 1, 17, 0))
    assert v.resource_id == "i-0aaaaaaaaaaaaaaa1"
    # Without `now`, the latest sample (20:30 Berlin) decides.
    assert len(check(wh, policies)) == 1
    # The same samples without working hours: a violation at 18:59 too.
    plain = parse_policies({"p": {"kind": "idle", "minutes": 60}})
    assert len(check(wh, plain, now=datetime(2026, 10, 1, 16, 59))) == 1


def test_weekends_are_outside_and_the_zone_follows_daylight_saving(wh: Warehouse) -> None:
    _idle(wh, datetime(2026, 10, 3, 8), 3)  # Saturday 10:00-13:00 Berlin
    _idle(wh, datetime(2026, 10, 26, 5), 3)  # Monday after the switch to CET (UTC+1)
    policies = _policy()
    assert len(check(wh, policies, now=datetime(2026, 10, 3, 10))) == 1
    # 06:59 UTC is 07:59 CET: before work, act; 07:00 UTC is 08:00 CET: working hours.
    # (On CEST, 07:00 UTC would have been 09:00.)
    assert len(check(wh, policies, now=datetime(2026, 10, 26, 6, 59))) == 1
    assert check(wh, policies, now=datetime(2026, 10, 26, 7, 0)) == []


def test_several_spans_and_bad_values_are_refused_naming_the_file(tmp_path: Path) -> None:
    (p,) = parse_policies(
        {"p": {"kind": "idle", "working_hours": "Mon-Fri 08:00-19:00, Sat 10:00-14:00"}}
    )
    assert [sorted(s.days) for s in p.working_hours] == [[0, 1, 2, 3, 4], [5]]
    assert p.timezone == "UTC"
    cases = {
        'working_hours = "weekdays 9-5"': "write days and hours such as",
        'working_hours = "Mon-Fri 19:00-08:00"': "write days and hours such as",
        'working_hours = "Mon-Fri 08:00-19:00"\ntimezone = "Mars/Olympus"': "not an IANA zone",
    }
    for body, message in cases.items():
        toml = tmp_path / "mlcost.toml"
        toml.write_text(f'[policies.night]\nkind = "idle"\n{body}\n')
        with pytest.raises(ConfigError, match=message) as err:
            load_settings(env={"HOME": str(tmp_path)}, cwd=tmp_path)
        assert str(toml) in str(err.value)
    with pytest.raises(ConfigError, match='applies to kind = "idle" only'):
        parse_policies({"p": {"kind": "required-tags", "working_hours": "Mon 08:00-09:00"}})
