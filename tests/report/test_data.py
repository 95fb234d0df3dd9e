"""The report's numbers are those of `mlcost spend`, showback statements, budget status and
the stored insights, to the cent, for the same week; a team's report holds only its team."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner

from mlcost.attribution import UNALLOCATED, statements
from mlcost.budgets import budget_status
from mlcost.cli.main import cli
from mlcost.errors import ConfigError, NotFound
from mlcost.report import IsoWeek, parse_owner, parse_week, weekly_report
from mlcost.spending import spend
from tests.report.conftest import Demo

CENT = Decimal("0.01")
TEAMS = ("llm-platform", "vision", "recommendations", "search", "data-eng", "speech")


def _spent(demo: Demo, w: IsoWeek) -> Decimal:
    with demo.open() as wh:
        t = spend(wh, by=(), start=w.start, end=w.end).to_pyarrow().to_pylist()
    return sum(
        (Decimal(r["EffectiveCost"]) for r in t if r["BillingCurrency"] == "USD"), Decimal(0)
    )


def test_default_week_is_the_last_complete_week_of_the_demo(demo: Demo) -> None:
    r = demo.report
    assert (r.week, str(r.start), str(r.last), r.complete) == (
        "2026-W23",
        "2026-06-01",
        "2026-06-07",
        True,
    )
    assert r.average_weeks == ("2026-W19", "2026-W20", "2026-W21", "2026-W22")
    assert r.currency == "USD" and not r.other_currencies
    assert r.notes == ()  # complete week, four complete weeks before, allocation adds up


def test_totals_equal_mlcost_spend_for_the_same_weeks(demo: Demo) -> None:
    r = demo.report
    week = parse_week(r.week)
    assert r.total.this_week == _spent(demo, week) > 0
    assert r.total.last_week == _spent(demo, week.shift(-1)) > 0
    four = [_spent(demo, week.shift(-i)) for i in range(1, 5)]
    assert r.total.average == sum(four, Decimal(0)) / 4
    # And the command line, as a user would check it.
    out = CliRunner().invoke(
        cli,
        [
            *("--warehouse", demo.url, "spend", "--by", "ServiceProviderName"),
            *("--format", "json", "--from", str(r.start), "--to", str(r.end)),
        ],
    )
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    cli_total = sum(Decimal(str(x["EffectiveCost"])) for x in rows)
    assert abs(cli_total - r.total.this_week) < CENT


def test_owners_models_and_workload_types_equal_the_showback_statements(demo: Demo) -> None:
    r = demo.report
    week = parse_week(r.week)
    with demo.open() as wh:
        found = statements(wh, week.start_dt, week.end_dt, owner_key="team")
    teams = {x.key: x.this_week for x in r.breakdowns["team"] if x.this_week}
    assert teams == {s.owner: s.total for s in found if s.total}
    assert set(teams) - {UNALLOCATED} <= set(TEAMS)
    # The statements reconcile to the bill, so the owners add up to `mlcost spend`.
    assert abs(sum(teams.values(), Decimal(0)) - r.total.this_week) < CENT
    models: dict[str, Decimal] = {}
    types: dict[str, Decimal] = {}
    for s in found:
        for k, v in s.by_model.items():
            models[k] = models.get(k, Decimal(0)) + v
        for k, v in s.by_workload_type.items():
            types[k] = types.get(k, Decimal(0)) + v
    assert {x.key: x.this_week for x in r.breakdowns["model"] if x.this_week} == {
        k: v for k, v in models.items() if v
    }
    assert {x.key: x.this_week for x in r.breakdowns["workload type"] if x.this_week} == {
        k: v for k, v in types.items() if v
    }
    projects = sum((x.this_week for x in r.breakdowns["project"]), Decimal(0))
    assert abs(projects - r.total.this_week) < CENT
    gpu = {g.owner: (g.used, g.idle) for g in r.gpu}
    assert gpu == {
        s.owner: (s.gpu_used, s.gpu_idle)
        for s in found
        if s.gpu_used or s.gpu_idle or s.gpu_unmeasured or s.gpu_unallocated
    }
    assert r.gpu_total.idle > 0 and r.gpu_total.used > 0


def test_last_week_and_average_use_the_same_statements(demo: Demo) -> None:
    r = demo.report
    week = parse_week(r.week)
    with demo.open() as wh:
        per_week = [
            {s.owner: s.total for s in statements(wh, w.start_dt, w.end_dt)}
            for w in (week.shift(-i) for i in range(1, 5))
        ]
    for line in r.breakdowns["team"]:
        assert line.last_week == per_week[0].get(line.key, Decimal(0))
        assert line.average == sum((p.get(line.key, Decimal(0)) for p in per_week), Decimal(0)) / 4


def test_changes_are_ranked_by_money(demo: Demo) -> None:
    moves = [abs(c.line.delta) for c in demo.report.changes]
    assert moves and moves == sorted(moves, reverse=True)
    assert all(c.line.delta == c.line.this_week - c.line.last_week for c in demo.report.changes)


def test_budgets_are_their_status_as_of_the_weeks_sunday(demo: Demo) -> None:
    r = demo.report
    assert {b.name for b in r.budgets} == {b.name for b in demo.budgets}
    with demo.open() as wh:
        for line, budget in zip(r.budgets, demo.budgets, strict=True):
            st = budget_status(wh, budget, as_of=r.last)
            assert (line.spent, line.period_start, line.period_end) == (
                st.spent,
                st.period_start,
                st.period_end,
            )
            assert sum((v for _, v in line.daily), Decimal(0)) == line.spent
            assert line.daily[-1][0] == r.last  # the burn runs to the Sunday
            assert st.forecast.total is not None and line.forecast is not None
            assert abs(float(line.forecast) - st.forecast.total) < 0.01


def test_insights_are_the_open_findings_worst_first(demo: Demo) -> None:
    r = demo.report
    savings = [i.saving for i in r.insights]
    assert savings and savings == sorted(savings, reverse=True)
    assert all(i.kind != "anomaly" and i.currency == "USD" for i in r.insights)
    # The totals are the savings plan's (tests/server/test_savings_plan.py: equal to
    # `mlcost insights --plan`): money spent once (runaway, early stop) is apart from the
    # monthly figure and holds every one-off finding shown.
    once = [i.saving for i in r.insights if i.saving_type == "one_off"]
    assert r.insights_one_off >= sum(once, Decimal(0))
    assert all(
        i.saving_type == ("one_off" if i.kind in {"runaway", "early_stop"} else "recurring")
        for i in r.insights
    )


def test_unit_costs_come_from_the_allocated_runs(demo: Demo) -> None:
    from mlcost.attribution import cost_per_run

    r = demo.report
    exp = next(u for u in r.units if u.name == "cost per experiment")
    w = parse_week(r.week).shift(-1)
    with demo.open() as wh:
        runs = cost_per_run(wh, w.start_dt, w.end_dt).to_pyarrow().to_pylist()
    experiments = {x["experiment"] for x in runs}
    cost = sum((Decimal(x["cost"]) for x in runs), Decimal(0))
    assert runs and exp.last_week == (cost / len(experiments)).quantize(CENT)
    assert dict(exp.history)[str(w)] == exp.last_week


def test_team_report_holds_only_its_team(demo: Demo) -> None:
    with demo.open() as wh:
        r = weekly_report(
            wh, demo.config, owner="Search", budgets=demo.budgets, rebuild=False
        )  # any spelling: normalized like the tags
        week = parse_week(r.week)
        (mine,) = [s for s in statements(wh, week.start_dt, week.end_dt) if s.owner == "search"]
    assert r.owner == "search"
    assert [x.key for x in r.breakdowns["team"]] == ["search"]
    assert r.total.this_week == mine.total
    assert abs(sum((x.this_week for x in r.breakdowns["project"]), Decimal(0)) - mine.total) < CENT
    assert {g.owner for g in r.gpu} == {"search"}
    assert [b.name for b in r.budgets] == ["search"]
    assert all(i.owner == "search" for i in r.insights)
    assert all(a.owner == "search" for a in r.anomalies)
    assert all(h.total == sum(h.parts.values(), Decimal(0)) for h in r.history)
    others = [t for t in TEAMS if t != "search"]
    from mlcost.report import render_html, render_markdown, render_slack

    # No row, card or line names another team (a resource may: search's share of the GKE
    # control plane is billed on the cluster gke-vision, and it is search's cost).
    html, md, slack = render_html(r), render_markdown(r), render_slack(r)
    for team in others:
        assert f">{team}<" not in html and f"| {team} |" not in md, team
        assert f"({team})" not in slack and f"team {team}" not in slack, team


def test_a_week_without_data_names_the_weeks_covered(demo: Demo) -> None:
    with demo.open() as wh, pytest.raises(NotFound) as err:
        weekly_report(wh, demo.config, week="2026-W30", rebuild=False)
    msg = str(err.value)
    assert "No cost data in 2026-W30 (2026-07-20..2026-07-26)" in msg
    assert "covers 2026-W18 to 2026-W23 (2026-05-01..2026-06-07)" in msg
    assert "--week 2026-W23" in msg


def test_unknown_owner_lists_the_owners(demo: Demo) -> None:
    with demo.open() as wh, pytest.raises(NotFound, match=r"Owners with costs that week: .*search"):
        weekly_report(wh, demo.config, owner="nobody", rebuild=False)


def test_owner_must_be_key_and_value() -> None:
    assert parse_owner("team:search") == ("team", "search")
    with pytest.raises(ConfigError, match=r"e\.g\. --owner team:search"):
        parse_owner("search")


def test_a_partial_week_says_so(demo: Demo) -> None:
    with demo.open() as wh:
        r = weekly_report(wh, demo.config, week="2026-W18", rebuild=False)
    assert not r.complete
    assert r.total.average is None
    assert any("not complete" in n for n in r.notes)
    assert any("no 4-week average" in n for n in r.notes)
    assert r.last - r.start == timedelta(days=6)
