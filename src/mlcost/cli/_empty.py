"""Why an answer is empty, with numbers: what the warehouse holds instead, what to run.

``mlcost spend``, ``insights`` and ``showback`` print one of these (on stderr, so a script's
JSON or CSV on stdout stays valid) instead of an empty table with no word of explanation.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = ["check_window", "latest_month", "no_cost_rows", "no_telemetry_linked", "say"]


def say(reason: str) -> None:
    import click

    click.echo(f"{reason[0].upper()}{reason[1:]}.", err=True)


def _day(t: datetime) -> str:
    return f"{t:%Y-%m-%d}"


def no_cost_rows(wh: Warehouse, start: datetime | None, end: datetime | None) -> str | None:
    """Why there is no cost row in ``[start, end)`` (by ChargePeriodStart), or None if there is.

    The reason names the range the warehouse does hold, or that it holds no bill at all.
    """
    t = wh.table("cost_line_items")
    held = t.aggregate(n=t.count(), a=t.ChargePeriodStart.min(), b=t.ChargePeriodEnd.max())
    r = held.to_pyarrow().to_pylist()[0]
    if not r["n"]:
        return (
            "no cost rows: this warehouse holds no bill; load one with "
            "`mlcost ingest focus PATH` (or point --warehouse at the one that has it)"
        )
    w = t
    if start is not None:
        w = w.filter(w.ChargePeriodStart >= start)
    if end is not None:
        w = w.filter(w.ChargePeriodStart < end)
    if w.count().execute():
        return None
    asked = (
        f"between {_day(start)} and {_day(end)}"
        if start is not None and end is not None
        else f"from {_day(start)}"
        if start is not None
        else f"before {_day(end)}"
        if end is not None
        else "at all"
    )
    return f"no cost rows {asked}; the warehouse holds {_day(r['a'])} to {_day(r['b'])}"


def check_window(start: datetime | None, end: datetime | None) -> None:
    """``--from`` after ``--to`` is the user's mistake (exit 2), as the API's 400 says."""
    import click

    if start is not None and end is not None and start >= end:
        raise click.BadParameter(
            f"--from {_day(start)} is not before --to {_day(end)}: the window is empty; "
            "swap them (--to is exclusive)",
            param_hint="--from/--to",
        )


def latest_month(wh: Warehouse) -> str | None:
    """The latest month (``YYYY-MM``) in which a charge starts, or None for no bill."""
    t = wh.table("cost_line_items")
    last = t.aggregate(last=t.ChargePeriodStart.max()).to_pyarrow().to_pylist()[0]["last"]
    return None if last is None else f"{last:%Y-%m}"


def no_telemetry_linked(wh: Warehouse) -> str:
    """Why GPU cost is unmeasured: no telemetry loaded, names that match no billed host, or
    telemetry that covers none of the window's GPU hours."""
    from mlcost.insights._run import LOAD, linked_inputs, unlinked

    linked, unmatched = linked_inputs(wh).get("gpu_samples", (0, 0))
    if linked:
        return "the GPU telemetry loaded covers none of these GPU hours: see `mlcost sources`"
    if unmatched:
        return unlinked("telemetry", unmatched)
    return f"GPU cost is unmeasured (neither used nor idle): {LOAD['telemetry']}"
