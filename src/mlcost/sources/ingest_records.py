"""What has been loaded: the ``ingests`` record with the rows each load still contributes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse


def ingest_history(warehouse: Warehouse) -> list[dict[str, Any]]:
    """One dict per ingest, oldest first.

    ``live_rows`` is less than ``rows`` once a later export restated the period.
    """
    ingests = warehouse.table("ingests")
    items = warehouse.table("cost_line_items")
    live = items.group_by(ingest_id=items.x_IngestId).aggregate(live_rows=items.count())
    joined = ingests.left_join(live, "ingest_id").order_by(ingests.ingest_id)
    out = []
    for r in joined.to_pyarrow().to_pylist():
        periods = sorted(p.strftime("%Y-%m") for p in (r["billing_periods"] or []))
        out.append(
            {
                "ingest_id": r["ingest_id"],
                "loaded_at": r["loaded_at"].isoformat(timespec="seconds"),
                "source": r["source"],
                "dataset": r["dataset"],
                "focus_version": r["focus_version"],
                "files": ", ".join(p.rsplit("/", 1)[-1] for p in r["paths"]),
                "periods": ", ".join(periods),
                "rows": r["row_count"],
                # Telemetry and workload loads write other tables; their rows stay live.
                "live_rows": (r["live_rows"] or 0) if _bills(r["dataset"]) else r["row_count"],
                "rows_replaced": r["rows_replaced"],
                "warnings": list(r["warnings"] or []),
            }
        )
    return out


def _bills(dataset: str | None) -> bool:
    """Whether a load wrote bill rows (FOCUS datasets or native bills as cost_line_items)."""
    return dataset is None or any(
        d in ("CostAndUsage", "ContractCommitment", "cost_line_items") for d in dataset.split(",")
    )
