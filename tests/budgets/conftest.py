"""A month of daily spend for two teams, written through the warehouse."""

from __future__ import annotations

from mlcost import Warehouse
from tests.attribution.conftest import line, put


def daily_spend(wh: Warehouse, days: int, per_day: dict[str, float]) -> None:
    """``per_day[team]`` USD on each of the first ``days`` days of October 2026."""
    rows = [
        line(f"{amount:.2f}", resource=f"{team}-node", start=24 * d, hours=24, tags={"team": team})
        for d in range(days)
        for team, amount in per_day.items()
    ]
    put(wh, "cost_line_items", rows)
