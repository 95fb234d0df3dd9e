"""Unit costs as figures that show their numerator and denominator: what ``mlcost units``,
the report, the API and the dashboard print.

    >>> f = Figure(Decimal("12.50"), "USD", 25_000.0, "1k predictions", scale=1e3)
    >>> f.value, f.as_dict()["numerator"]
    (0.5, {'amount': '12.50', 'currency': 'USD'})

Three views (``by``): ``model`` (self-hosted cost per 1M input / output tokens, per 1,000
predictions, utilization, and the model's lifecycle phases), ``experiment`` (per experiment,
per run, per unit of metric improvement) and ``owner`` (per run and per experiment of each
owner). Every number comes from :mod:`mlcost.attribution.units` and
:mod:`mlcost.attribution.serving`, which read ``allocated_costs``, the one owner model.

Cost per unit of improvement of an experiment: what its runs after the first cost, over how
far its best ``metric`` got past the first run's (``lower_is_better`` for losses); NULL when
it did not improve.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcost.config import AttributionConfig
    from mlcost.warehouse import Warehouse

__all__ = ["BY", "Figure", "UnitCosts", "unit_costs"]

BY = ("model", "experiment", "owner")
_CENT = Decimal("0.01")


def _money(x: Any) -> Decimal | None:
    if x is None:
        return None
    return Decimal(str(x)).quantize(Decimal("0.000001")).normalize()


def _cents(x: Any) -> Decimal:
    return Decimal(str(x)).quantize(_CENT)


@dataclass(frozen=True)
class Figure:
    """``numerator`` money (in ``currency``) per ``scale`` units of ``denominator``."""

    numerator: Decimal | None
    currency: str | None
    denominator: float | None
    per: str
    scale: float = 1.0

    @property
    def value(self) -> float | None:
        if self.numerator is None or not self.denominator:
            return None
        return round(float(self.numerator) * self.scale / self.denominator, 6)

    def as_dict(self) -> dict[str, Any]:
        amount = None if self.numerator is None else self.numerator.quantize(_CENT)
        if self.numerator is not None and abs(self.numerator) < 1:
            amount = _money(self.numerator)
        return {
            "value": self.value,
            "currency": self.currency,
            "per": self.per,
            "numerator": None
            if amount is None
            else {"amount": f"{amount:f}", "currency": self.currency},
            "denominator": self.denominator,
        }

    def text(self) -> str:
        """``0.42 USD (12.30 USD / 29,300 input tokens)`` for tables."""
        if self.value is None or self.numerator is None or self.denominator is None:
            return "-"
        unit = self.per.split(" ", 1)[-1] if self.scale != 1 else self.per
        if self.denominator != 1 and not unit.endswith("s"):
            unit += "s"
        v = self.value
        shown = f"{v:,.2f}" if abs(v) >= 1 else f"{v:.4g}"
        return (
            f"{shown} {self.currency} ({self.numerator:,.2f} {self.currency} / "
            f"{self.denominator:,.0f} {unit})"
        )


@dataclass(frozen=True)
class UnitCosts:
    """Rows of one view; figures are :class:`Figure`, other values plain."""

    by: str
    start: datetime | None
    end: datetime | None
    rows: tuple[dict[str, Any], ...]
    notes: tuple[str, ...] = field(default=())

    def with_rows(self, rows: Iterable[dict[str, Any]], note: str | None = None) -> UnitCosts:
        """The same view with ``rows`` (e.g. ``mlcost.plan.versus_api``'s) and one more note."""
        from dataclasses import replace

        notes = self.notes if note is None else (*self.notes, note)
        return replace(self, rows=tuple(rows), notes=notes)

    def as_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            if isinstance(v, Figure):
                return v.as_dict()
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, list | tuple):
                return [plain(x) for x in v]
            if isinstance(v, Decimal):
                return f"{v:f}"
            if isinstance(v, datetime):
                return v.isoformat()
            return v

        return {
            "by": self.by,
            "start": plain(self.start),
            "end": plain(self.end),
            "rows": [plain(r) for r in self.rows],
            "notes": list(self.notes),
        }


def _rows(expr: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


def unit_costs(
    warehouse: Warehouse,
    by: str = "model",
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    metric: str | None = None,
    lower_is_better: bool = True,
    config: AttributionConfig | None = None,
) -> UnitCosts:
    """The unit costs of one view over [start, end) (None: everything loaded). With
    ``config``, the owner model's stale months are rebuilt first (or, read-only, a clear
    error says how), as every view of it does."""
    if config is not None:
        from mlcost.attribution.model import ensure_current

        ensure_current(warehouse, config, start=start, end=end)
    if by == "model":
        rows, notes = _by_model(warehouse, start, end)
    elif by == "experiment":
        rows, notes = _by_experiment(warehouse, start, end, metric, lower_is_better)
    elif by == "owner":
        rows, notes = _by_owner(warehouse, start, end)
    else:
        from mlcost.errors import InvalidInput

        raise InvalidInput(f"by {by!r} is not one of {', '.join(BY)}")
    return UnitCosts(by, start, end, tuple(rows), tuple(notes))


def _by_model(
    wh: Warehouse, start: datetime | None, end: datetime | None
) -> tuple[list[dict[str, Any]], list[str]]:
    from mlcost.attribution.serving import endpoint_costs, has_served_tokens, token_costs
    from mlcost.attribution.units import PHASES, cost_per_endpoint, model_lifecycle

    notes: list[str] = []
    models: dict[str, dict[str, Any]] = {}

    def row(model: str) -> dict[str, Any]:
        return models.setdefault(model, {"model": model})

    tokens = has_served_tokens(wh)
    tenants: dict[str, list[dict[str, Any]]] = {}
    for t in _rows(token_costs(wh, start, end, by=("model", "tenant"))) if tokens else []:
        cur = t["currency"]
        tenants.setdefault(t["model"] or "(no model)", []).append(
            {
                "tenant": t["tenant"],
                "cost": Figure(_money(t["cost"]), cur, 1.0, "tenant"),
                "usd_per_1m_input": Figure(
                    _money(t["input_cost"]), cur, t["input_tokens"], "1M input tokens", 1e6
                ),
                "usd_per_1m_output": Figure(
                    _money(t["output_cost"]), cur, t["output_tokens"], "1M output tokens", 1e6
                ),
            }
        )
    for t in _rows(token_costs(wh, start, end, by=("model",))) if tokens else []:
        cur = t["currency"]
        r = row(t["model"] or "(no model)")
        r["usd_per_1m_tokens"] = {
            "input": Figure(
                _money(t["input_cost"]), cur, t["input_tokens"], "1M input tokens", 1e6
            ),
            "output": Figure(
                _money(t["output_cost"]), cur, t["output_tokens"], "1M output tokens", 1e6
            ),
            "all": Figure(
                _money(t["cost"]),
                cur,
                (t["input_tokens"] or 0) + (t["output_tokens"] or 0),
                "1M tokens",
                1e6,
            ),
        }
        r["usd_per_1k_predictions"] = Figure(
            _money(t["cost"]), cur, t["requests"], "1k predictions", 1e3
        )
        r["utilization"] = None if t["utilization"] is None else round(t["utilization"], 4)
        r["traffic"] = _traffic(t)
        r["tenants"] = tenants.get(r["model"], [])
        r["split_rule"] = t["split_rule"]
        r["endpoints"] = t["endpoints"]
    # Models served without token counters: requests of served-volume endpoints.
    served: dict[tuple[str, str], list[Decimal | float]] = {}
    for e in _rows(cost_per_endpoint(wh, start, end)):
        if not e["model"] or e["model"] in models or e["cost"] is None:
            continue
        acc = served.setdefault((e["model"], e["currency"]), [Decimal(0), 0.0])
        acc[0] = Decimal(acc[0]) + Decimal(str(e["cost"]))
        acc[1] = float(acc[1]) + float(e["requests"] or 0)
    for (model, cur), (cost, requests) in served.items():
        row(model)["usd_per_1k_predictions"] = Figure(
            _money(cost), cur, float(requests), "1k predictions", 1e3
        )
    for m in _rows(model_lifecycle(wh, start, end)):
        phases = {p.replace("-", "_"): m[f"{p.replace('-', '_')}_cost"] for p in PHASES}
        row(m["model"])["lifecycle"] = {
            k: None if v is None else {"amount": f"{_cents(v):f}", "currency": m["currency"]}
            for k, v in (phases | {"total": m["cost"]}).items()
        }
    for e in _rows(endpoint_costs(wh, start, end)) if tokens else []:
        if e["billed_resource_id"] is None:
            notes.append(
                f"endpoint {e['endpoint']!r} of served_tokens matches no billed resource: its "
                "tokens have no cost. Name it as the bill does (ResourceId, instance id, "
                "ResourceName or host name); see mlcost sources --unmatched."
            )
    if any("usd_per_1m_tokens" in r for r in models.values()):
        notes.append(
            "Self-hosted cost per token = the endpoint's allocated cost (GPU used and idle "
            "share) / tokens served; split_rule says how input and output share it."
        )
    else:
        notes.append(
            "No tokens served in this window (served_tokens is empty): load vLLM / TGI / "
            "Triton counters or a gateway log to see cost per 1M tokens."
        )
    return sorted(models.values(), key=lambda r: str(r["model"])), notes


def _traffic(t: dict[str, Any]) -> dict[str, Any] | None:
    """The measured traffic shape that managed-vs-self-hosted compares at
    (:func:`mlcost.plan.api_comparison`): cost per endpoint-hour, input share, mean tokens
    per second per endpoint, utilization."""
    tokens = (t["input_tokens"] or 0) + (t["output_tokens"] or 0)
    hours = t["endpoint_hours"]
    if t["cost"] is None or not hours or not tokens:
        return None
    return {
        "self_hosted_usd_per_hour": round(t["cost"] / hours, 6),
        "input_share": round((t["input_tokens"] or 0) / tokens, 6),
        "tokens_per_second": round(tokens / (hours * 3600), 3),
        "utilization": t["utilization"],
        "endpoint_hours": round(hours, 3),
        "currency": t["currency"],
    }


def _by_experiment(
    wh: Warehouse,
    start: datetime | None,
    end: datetime | None,
    metric: str | None,
    lower_is_better: bool,
) -> tuple[list[dict[str, Any]], list[str]]:
    from mlcost.attribution.units import cost_per_experiment, cost_per_run

    runs = _rows(cost_per_run(wh, start, end).order_by(["experiment", "start", "run_id"]))
    out: list[dict[str, Any]] = []
    for e in _rows(cost_per_experiment(wh, start, end)):
        cost, cur = _money(e["cost"]), e["currency"]
        r: dict[str, Any] = {
            "experiment": e["experiment"] or "(no experiment)",
            "runs": e["runs"],
            "gpu_hours": None if e["gpu_hours"] is None else round(e["gpu_hours"], 3),
            "usd_per_experiment": Figure(cost, cur, 1.0, "experiment"),
            "usd_per_run": Figure(cost, cur, float(e["runs"]), "run"),
        }
        if metric:
            mine = [x for x in runs if x["experiment"] == e["experiment"]]
            r["usd_per_improvement"] = _improvement(mine, metric, lower_is_better, cur)
        out.append(r)
    notes = []
    if metric:
        notes.append(
            f"usd_per_improvement: the cost of the runs after the first over how far the best "
            f"{metric} got past the first run's ({'lower' if lower_is_better else 'higher'} is "
            "better); none when it did not improve."
        )
    return out, notes


def _improvement(
    runs: Iterable[dict[str, Any]], metric: str, lower_is_better: bool, currency: str
) -> Figure:
    scored = [r for r in runs if r["metrics"] and dict(r["metrics"]).get(metric) is not None]
    if len(scored) < 2:
        return Figure(None, currency, None, f"unit of {metric}")
    values = [float(dict(r["metrics"])[metric]) for r in scored]
    best = min(values) if lower_is_better else max(values)
    gain = (values[0] - best) if lower_is_better else (best - values[0])
    after = sum((Decimal(str(r["cost"])) for r in scored[1:]), Decimal(0))
    return Figure(_money(after), currency, round(gain, 9) or None, f"unit of {metric}")


def _by_owner(
    wh: Warehouse, start: datetime | None, end: datetime | None
) -> tuple[list[dict[str, Any]], list[str]]:
    from mlcost.attribution.units import cost_per_run

    r = cost_per_run(wh, start, end)
    g = r.group_by(["owner", "currency"]).aggregate(
        runs=r.workload_id.nunique(),
        experiments=r.experiment.nunique(),
        cost=r.cost.sum(),
        gpu_hours=r.gpu_hours.sum(),
    )
    out = []
    for x in _rows(g.order_by(g.cost.desc())):
        cost, cur = _money(x["cost"]), x["currency"]
        out.append(
            {
                "owner": x["owner"] or "(unallocated)",
                "runs": x["runs"],
                "experiments": x["experiments"],
                "usd_per_run": Figure(cost, cur, float(x["runs"]), "run"),
                "usd_per_experiment": Figure(
                    cost, cur, float(x["experiments"]) or None, "experiment"
                ),
            }
        )
    return out, ["Runs and experiments of each owner (the owner model's x_Owner)."]
