"""How long the weekly report takes on the demo organization.

Generates the demo (``--days``, ``--scale``), loads it as ``mlcost demo`` does (bills,
telemetry, workloads, stored insights), then times: the first report (allocating every month
its weeks touch), a report reading the allocation as built (``--no-rebuild``), a team's report,
every team's report from one set of reads (``--per-owner``), and rendering the HTML.

    python benchmarks/report.py --days 38 --scale 0.3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=38)
    parser.add_argument("--scale", type=float, default=0.3)
    args = parser.parse_args()

    from mlcost import ingest_focus, open_warehouse
    from mlcost.demo import generate_demo
    from mlcost.demo._config import demo_attribution, demo_budgets
    from mlcost.insights import run_insights, save_findings
    from mlcost.report import render_html, weekly_report, weekly_reports
    from mlcost.sources import ingest_auto

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        generate_demo(out, days=args.days, scale=args.scale)
        config = demo_attribution()
        budgets, _ = demo_budgets(out)
        with open_warehouse(f"duckdb://{out / 'w.duckdb'}") as wh:
            ingest_focus(wh, sorted((out / "billing").glob("*.csv")))
            ingest_auto(wh, [out / "telemetry", out / "workloads"])
            save_findings(wh, run_insights(wh, config))
            rows = wh.table("cost_line_items").count().execute()

            def timed(label: str, fn: object) -> object:
                t = time.perf_counter()
                result = fn()  # type: ignore[operator]
                print(f"{label:<40} {time.perf_counter() - t:6.2f} s")
                return result

            print(f"demo: {args.days} days, scale {args.scale}, {rows:,} line items")
            report = timed(
                "report, allocating its months",
                lambda: weekly_report(wh, config, budgets=budgets),
            )
            timed(
                "report, --no-rebuild",
                lambda: weekly_report(wh, config, budgets=budgets, rebuild=False),
            )
            timed(
                "team report, --no-rebuild",
                lambda: weekly_report(wh, config, owner="search", budgets=budgets, rebuild=False),
            )
            found = timed(
                "every team's report, --no-rebuild",
                lambda: weekly_reports(wh, config, None, budgets=budgets, rebuild=False),
            )
            timed("render HTML", lambda: render_html(report))  # type: ignore[arg-type]
            print(f"teams: {len(found)}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
