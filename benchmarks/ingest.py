"""Ingest and spend benchmark: mlcost against DuckDB's own floor and against pandas.

    python benchmarks/ingest.py --rows 10000000

1. writes an N-row FOCUS 1.2 Parquet file (mlcost.testing.write_focus_file);
2. (a) times `CREATE TABLE … AS SELECT * FROM read_parquet(…)` in a fresh DuckDB file (the
   floor: no validation, no mapping) against `mlcost.ingest_focus` into a fresh warehouse,
   each twice over: until the statement (or the call) returns, and until the table is written
   into the database file (that plus a `CHECKPOINT`). The floor's CTAS returns with part of
   its writing still to do — DuckDB finishes it at the next checkpoint, at the latest when
   the file is closed — while mlcost's load commits and checkpoints inside the call, so only
   the second pair compares the same work;
3. (b) times `mlcost.spend(by=[ServiceProviderName, ServiceName])` — as a user gets it, from
   the daily rollup `cost_daily`, and with `rollup=False` from the line items — against the
   same aggregate written by hand in DuckDB SQL on the line items (and, for the record, on
   `cost_daily`);
4. (c) times the same report in pandas (read the needed Parquet columns, filter, groupby-sum).

Each step runs in its own process so its peak memory (max RSS) is its own. Results print as
a table and, with --json, as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

DIMS = ("ServiceProviderName", "ServiceName")


# Each step opens its connection first and returns the work to time, so the figures compare
# the load or the query itself, not interpreter start-up or imports. A load step also returns
# what finishes writing it into the file (a CHECKPOINT), timed on its own.
Work = Callable[[], object]


def _floor(parquet: str, db: str) -> tuple[Work, Work]:
    import duckdb

    con = duckdb.connect(db)
    return (
        lambda: con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{parquet}')"),
        lambda: con.execute("CHECKPOINT"),
    )


def _mlcost_ingest(parquet: str, db: str) -> tuple[Work, Work]:
    from mlcost import ingest_focus, open_warehouse

    wh = open_warehouse(f"duckdb://{db}")
    return lambda: ingest_focus(wh, [parquet]), lambda: wh.ibis.raw_sql("CHECKPOINT").fetchall()


def _mlcost_spend(parquet: str, db: str) -> Callable[[], object]:
    from mlcost import open_warehouse, spend

    wh = open_warehouse(f"duckdb://{db}", read_only=True)
    return lambda: spend(wh, by=list(DIMS)).to_pyarrow()


def _mlcost_spend_lines(parquet: str, db: str) -> Callable[[], object]:
    from mlcost import open_warehouse, spend

    wh = open_warehouse(f"duckdb://{db}", read_only=True)
    return lambda: spend(wh, by=list(DIMS), rollup=False).to_pyarrow()


def _duckdb_spend(parquet: str, db: str) -> Callable[[], object]:
    import duckdb

    con = duckdb.connect(db, read_only=True)
    sql = """SELECT ServiceProviderName, ServiceName, BillingCurrency, sum(EffectiveCost) AS cost
             FROM cost_line_items
             WHERE ChargeCategory IS DISTINCT FROM 'Purchase' OR CommitmentDiscountId IS NULL
             GROUP BY ALL ORDER BY cost DESC, ServiceProviderName, ServiceName"""
    return lambda: con.execute(sql).arrow()


def _duckdb_rollup_spend(parquet: str, db: str) -> Callable[[], object]:
    import duckdb

    con = duckdb.connect(db, read_only=True)
    sql = """SELECT ServiceProviderName, ServiceName, BillingCurrency, sum(EffectiveCost) AS cost
             FROM cost_daily WHERE NOT x_CommitmentPurchase
             GROUP BY ALL ORDER BY cost DESC, ServiceProviderName, ServiceName"""
    return lambda: con.execute(sql).arrow()


def _pandas_spend(parquet: str, db: str) -> Callable[[], object]:
    import pandas as pd

    def report() -> object:
        # The same report as a pandas user writes it: the FOCUS 1.2 file has ProviderName.
        columns = ["ProviderName", "ServiceName", "BillingCurrency", "EffectiveCost"]
        df = pd.read_parquet(parquet, columns=[*columns, "ChargeCategory"])
        df = df[df["ChargeCategory"] != "Purchase"]
        out = df.groupby(columns[:3])["EffectiveCost"].sum()
        return out.sort_values(ascending=False)

    return report


STEPS: dict[str, Callable[[str, str], Work | tuple[Work, Work]]] = {
    "floor": _floor,
    "ingest": _mlcost_ingest,
    "spend": _mlcost_spend,
    "spend_lines": _mlcost_spend_lines,
    "duckdb_spend": _duckdb_spend,
    "duckdb_rollup": _duckdb_rollup_spend,
    "pandas_spend": _pandas_spend,
}


def _child(step: str, parquet: str, db: str, repeat: int) -> None:
    made = STEPS[step](parquet, db)
    work, finish = made if isinstance(made, tuple) else (made, None)
    seconds = float("inf")
    for _ in range(repeat):  # warm runs: the best of `repeat`
        start = time.perf_counter()
        work()
        seconds = min(seconds, time.perf_counter() - start)
    result = {"seconds": seconds}
    if finish is not None:  # a load: once, then the checkpoint that completes it
        start = time.perf_counter()
        finish()
        result["written_seconds"] = seconds + time.perf_counter() - start
    print(json.dumps({**result, "peak_mib": _peak_rss_kib() / 1024}))


def _peak_rss_kib() -> int:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child would report the
    # parent's peak (the parent held the generated table in memory).
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _run(step: str, parquet: Path, db: Path, repeat: int = 1) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", step, str(parquet), str(db), str(repeat)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=5, help="query runs; the best is kept")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step, parquet_path, db_path, repeat = args.child
        _child(step, parquet_path, db_path, int(repeat))
        return

    from mlcost.testing import write_focus_file

    work = args.dir or Path(tempfile.mkdtemp(prefix="mlcost-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    parquet = work / f"focus-{args.rows}.parquet"
    if not parquet.exists():
        print(f"writing {args.rows:,} rows to {parquet} ...", file=sys.stderr)
        write_focus_file(parquet, args.rows)
    floor_db, wh_db = work / "floor.duckdb", work / "warehouse.duckdb"
    for db in (floor_db, wh_db):
        db.unlink(missing_ok=True)
        db.with_name(db.name + ".wal").unlink(missing_ok=True)

    r = {
        "floor": _run("floor", parquet, floor_db),
        "ingest": _run("ingest", parquet, wh_db),
    }
    for step in ("spend", "spend_lines", "duckdb_spend", "duckdb_rollup", "pandas_spend"):
        r[step] = _run(step, parquet, wh_db, repeat=args.repeat)
    summary = {
        "rows": args.rows,
        "parquet_mib": round(parquet.stat().st_size / 2**20, 1),
        "ingest_vs_floor": r["ingest"]["written_seconds"] / r["floor"]["written_seconds"],
        "ingest_vs_floor_returned": r["ingest"]["seconds"] / r["floor"]["seconds"],
        "spend_vs_duckdb": r["spend"]["seconds"] / r["duckdb_spend"]["seconds"],
        "spend_lines_vs_duckdb": r["spend_lines"]["seconds"] / r["duckdb_spend"]["seconds"],
        "spend_vs_duckdb_rollup": r["spend"]["seconds"] / r["duckdb_rollup"]["seconds"],
        "pandas_vs_spend": r["pandas_spend"]["seconds"] / r["spend"]["seconds"],
        "steps": r,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"rows: {args.rows:,}  parquet: {summary['parquet_mib']} MiB")
    print(f"{'step':<14}{'seconds':>10}{'written':>10}{'peak MiB':>10}")
    for step, v in r.items():
        written = f"{v['written_seconds']:>10.2f}" if "written_seconds" in v else " " * 10
        print(f"{step:<14}{v['seconds']:>10.2f}{written}{v['peak_mib']:>10.0f}")
    print(f"ingest / DuckDB floor:      {summary['ingest_vs_floor']:.2f}x  (goal <= 1.5x; written)")
    print(f"  until the call returns:   {summary['ingest_vs_floor_returned']:.2f}x")
    print(f"spend / raw DuckDB SQL:     {summary['spend_vs_duckdb']:.2f}x  (goal <= 1.2x)")
    print(f"  line-item path / same:    {summary['spend_lines_vs_duckdb']:.2f}x")
    print(f"  spend / SQL on cost_daily: {summary['spend_vs_duckdb_rollup']:.2f}x")
    print(f"pandas / spend:             {summary['pandas_vs_spend']:.1f}x  (goal >= 10x)")


if __name__ == "__main__":
    main()
