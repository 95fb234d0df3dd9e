"""The REST routes under ``/api/v1``: thin wrappers over the library functions the CLI uses.

Every route needs a principal (:func:`~mlcost.server.auth.current_principal`). Team data
(spend, showback, insights, budgets, alerts) is cut to the principal's teams; policies and
the audit need ``read:all``; the catalog and planners hold no team data. Library errors
become 400 answers that name the parameter and the fix (see ``app._add_error_handlers``).
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from mlcost.plan.requests import GpuRequest, MemoryRequest, SpotRequest, TcoRequest
from mlcost.server import models as m
from mlcost.server._teams import OWNER, TEAM, Teams, learn_teams
from mlcost.server.auth import (
    Principal,
    authorized,
    list_tokens,
    require_admin,
    require_read_all,
)

if TYPE_CHECKING:
    from mlcost.budgets import BudgetStatus
    from mlcost.config import BudgetConfig, Settings
    from mlcost.server._state import Reader
    from mlcost.warehouse import Warehouse

__all__ = ["router"]

T = TypeVar("T")
router = APIRouter(responses=m.ERROR_RESPONSES)
Auth = Annotated[Principal, Depends(authorized)]
Metric = Literal["EffectiveCost", "BilledCost", "ListCost", "ContractedCost"]
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
MAX_DIMENSIONS = 8  # the work one request may ask for: dimensions (FOCUS columns, tag keys)
_MAX_NAME = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(field: str, value: str) -> str:
    """``value`` as a column or tag name: no control characters, at most 128 characters."""
    if _CONTROL.search(value) or len(value) > _MAX_NAME:
        raise _bad(
            field,
            f"{value[:40]!r} is not a column or tag name: use printable characters, "
            f"at most {_MAX_NAME}.",
        )
    return value


def _month(month: str) -> str:
    """A month the calendar can close (its window ends on the next month's first day)."""
    from mlcost.attribution.allocate import month_window

    try:
        month_window(month)
    except ValueError:
        raise _bad(
            "month", f"{month} has no end in the calendar; give a month up to 9998-12."
        ) from None
    return month


Limit = Annotated[int, Query(ge=1, le=10_000, description="Most rows to return.")]


def _reader(request: Request) -> Reader:
    reader: Reader = request.app.state.reader
    return reader


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _cached(request: Request, key: Hashable, compute: Callable[[Warehouse], T]) -> T:
    return _reader(request).cached(key, compute)


def _teams(request: Request) -> Teams:
    config = _settings(request).attribution
    return _cached(request, ("teams",), lambda wh: learn_teams(wh, config))


def _bad(parameter: str, message: str) -> HTTPException:
    return HTTPException(status_code=400, detail=f"{parameter}: {message}")


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


# -- who am I ------------------------------------------------------------------------------


@router.get("/me", response_model=m.Me, tags=["server"], summary="The token's scopes and teams")
def me(principal: Auth) -> m.Me:
    teams = principal.teams
    return m.Me(
        token_id=principal.token_id,
        scopes=sorted(principal.scopes),
        teams=None if teams is None else sorted(teams),
        admin=principal.is_admin,
    )


@router.get(
    "/tokens", response_model=list[m.TokenOut], tags=["server"], summary="API tokens (admin)"
)
def tokens(request: Request, principal: Auth) -> list[m.TokenOut]:
    require_admin(principal)
    found = _cached(request, ("tokens",), list_tokens)
    return [
        m.TokenOut(
            token_id=t.token_id,
            name=t.name,
            scopes=list(t.scopes),
            created_at=t.created_at,
            revoked_at=t.revoked_at,
            expires_at=t.expires_at,
        )
        for t in found
    ]


# -- spend ---------------------------------------------------------------------------------


def _dimensions(by: str) -> list[str]:
    from mlcost.spending import METRICS

    dims = [d.strip() for d in by.split(",") if d.strip()]
    if not dims:
        raise _bad("by", "give at least one dimension, e.g. by=team or by=ServiceName,tag:env.")
    if len(dims) > MAX_DIMENSIONS:
        raise _bad("by", f"{len(dims)} dimensions asked; at most {MAX_DIMENSIONS} per request.")
    for d in dims:
        _printable("by", d)
        if d.count("|") >= MAX_DIMENSIONS:
            raise _bad("by", f"{d[:40]!r}…: at most {MAX_DIMENSIONS} spellings of one tag key.")
    if len(set(dims)) != len(dims):
        raise _bad("by", f"a dimension is repeated in {by!r}; name each once.")
    for d in dims:
        if d in ("BillingCurrency", *METRICS):
            raise _bad(
                "by",
                f"{d!r} cannot be a dimension: every row already carries its currency and "
                "amount. Group by a FOCUS column such as ServiceName, team, or tag:<key>.",
            )
    return dims


@router.get("/spend", response_model=m.SpendOut, tags=["spend"], summary="Spend by dimensions")
async def get_spend(
    request: Request,
    principal: Auth,
    by: Annotated[
        str,
        Query(
            description="Comma-separated dimensions: FOCUS columns (ServiceName, RegionId, …), "
            "tag:<key> (tag:env, tag:team|Team), team: the attribution owner tag with its "
            "spellings normalized as showback does, or owner: attribution's owner model (each "
            "owner's direct cost, (shared), (unallocated); summing to the bill)."
        ),
    ] = "ServiceProviderName",
    metric: Metric = "EffectiveCost",
    start: Annotated[
        date | None, Query(alias="from", description="Charges from this day (inclusive).")
    ] = None,
    end: Annotated[
        date | None, Query(alias="to", description="Charges before this day (exclusive).")
    ] = None,
    limit: Limit = 1000,
) -> Response:
    """:func:`mlcost.spend` grouped by ``by``, largest first. A team token gets its own
    teams' rows plus one ``other_teams`` row per currency with everything else."""
    if start is not None and end is not None and start >= end:
        raise _bad("from", f"{start} is not before to={end}; give from < to (to is exclusive).")
    dims = _dimensions(by)
    scoped = principal.teams
    # The answer is cached as JSON per question and readable teams: the main endpoint of
    # dashboards and scripts answers a repeated question without a query or a re-validation.
    key = ("spend-json", tuple(dims), metric, start, end, limit, scoped)
    reader = _reader(request)
    found, body = reader.peek(key)
    if not found:
        body = await reader.run(
            reader.memo,
            key,
            lambda: _spend(request, dims, scoped, metric, start, end, limit).model_dump_json(),
        )
    return Response(content=body, media_type="application/json")


def _spend(
    request: Request,
    dims: list[str],
    scoped: frozenset[str] | None,
    metric: str,
    start: date | None,
    end: date | None,
    limit: int,
) -> m.SpendOut:
    from mlcost.attribution.model import spend
    from mlcost.spending import spend_rows

    config = _settings(request).attribution
    if OWNER in dims:
        # Attribution's owner model (allocated_costs as built; the server never writes): each
        # owner's direct cost, (shared), (unallocated); the owner is the team of its rows.
        teams = None
        query = list(dims)
        team_column: str | None = OWNER if scoped is not None else None
    else:
        teams = _teams(request) if TEAM in dims or scoped is not None else None
        query = [teams.dimension if d == TEAM and teams else d for d in dims]
        team_column = None
        if teams is not None:
            team_column = teams.dimension
            if team_column not in query:
                query.append(team_column)

    def compute(wh: Warehouse) -> list[dict[str, Any]]:
        if OWNER not in dims:  # the bill's columns: one query on the rollup where it answers
            return spend_rows(wh, by=query, metric=metric, start=start, end=end)
        expr = spend(wh, by=query, metric=metric, start=start, end=end, attribution=config)
        rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
        return rows

    rows = _cached(request, ("spend", tuple(query), metric, start, end), compute)
    groups: dict[tuple[tuple[str | None, ...], str], Decimal] = defaultdict(Decimal)
    other: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        amount = Decimal(r[metric] or 0)
        currency = r["BillingCurrency"] or "?"
        if team_column == OWNER:
            team = r[OWNER]
        else:
            team = teams.name(r[team_column]) if teams and team_column else None
        if scoped is not None and team not in scoped:
            other[currency] += amount
            continue
        keys = tuple(
            team if d == TEAM and teams else _text(r[q])
            for d, q in zip(dims, query[: len(dims)], strict=True)
        )
        groups[(keys, currency)] += amount
    ordered = sorted(groups.items(), key=lambda kv: (-kv[1], [k or "" for k in kv[0][0]]))
    out = [
        m.SpendRow(
            keys=dict(zip(dims, keys, strict=True)),
            cost=m.money(amount, currency),
            other_teams=False,
        )
        for (keys, currency), amount in ordered[:limit]
    ]
    out += [
        m.SpendRow(keys=dict.fromkeys(dims), cost=m.money(amount, cur), other_teams=True)
        for cur, amount in sorted(other.items())
    ]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for (_, currency), amount in groups.items():
        totals[currency] += amount
    for currency, amount in other.items():
        totals[currency] += amount
    return m.SpendOut(
        by=dims,
        metric=metric,
        start=start,
        end=end,
        teams=None if scoped is None else sorted(scoped),
        rows=out,
        totals=[m.money(a, c) for c, a in sorted(totals.items())],
    )


# -- showback ------------------------------------------------------------------------------


def _statement(s: Any, currency: str) -> m.StatementOut:
    def mm(x: Decimal) -> m.Money:
        return m.money(x, currency)

    return m.StatementOut(
        owner=s.owner,
        direct=mm(s.direct),
        shared=mm(s.shared),
        gpu_used=mm(s.gpu_used),
        gpu_idle=mm(s.gpu_idle),
        gpu_unmeasured=mm(s.gpu_unmeasured),
        gpu_unallocated=mm(s.gpu_unallocated),
        unallocated=mm(s.unallocated),
        total=mm(s.total),
        billed=mm(s.billed),
        gpu_hours=s.gpu_hours,
        coverage=s.coverage,
        by_workload_type={k: mm(v) for k, v in s.by_workload_type.items()},
        by_model={k: mm(v) for k, v in s.by_model.items()},
    )


@router.get(
    "/showback", response_model=m.ShowbackOut, tags=["showback"], summary="Statements per owner"
)
def get_showback(
    request: Request,
    principal: Auth,
    month: Annotated[str, Query(pattern=MONTH, description="Billing month, YYYY-MM.")],
    by: Annotated[
        str | None, Query(description="Owner tag key (default: [attribution] owner).")
    ] = None,
) -> m.ShowbackOut:
    """The month's statements as ``mlcost showback`` built them (the server never rebuilds
    ``allocated_costs``; run ``mlcost showback --month M`` after new data)."""
    from mlcost.attribution import showback

    _month(month)
    if by is not None:
        _printable("by", by)
    config = _settings(request).attribution
    scoped = principal.teams
    if scoped is not None and by not in (None, config.owner):
        raise HTTPException(
            status_code=403,
            detail=f"by: a team token reads statements by the owner key {config.owner!r} only.",
        )
    sb = _cached(
        request,
        ("showback", month, by),
        lambda wh: showback(wh, config, month, by=by, rebuild=False),
    )
    shown = [s for s in sb.statements if scoped is None or s.owner in scoped]
    hidden = [s for s in sb.statements if s not in shown]
    rec = sb.reconciliation
    note = None
    if not sb.statements:
        note = (
            f"No allocation for {month} yet: run `mlcost showback --month {month}` "
            "(the server reads allocated_costs as built)."
        )
    return m.ShowbackOut(
        month=sb.month,
        owner_key=sb.owner_key,
        currency=sb.currency,
        statements=[_statement(s, sb.currency) for s in shown],
        other_owners_total=None
        if scoped is None
        else m.money(sum((s.total for s in hidden), Decimal(0)), sb.currency),
        bill_effective=m.money(rec.effective[0], rec.currency),
        allocated_effective=m.money(rec.effective[1], rec.currency),
        balanced=rec.balanced,
        note=note,
    )


# -- insights ------------------------------------------------------------------------------


@router.get(
    "/insights", response_model=list[m.FindingOut], tags=["insights"], summary="Stored findings"
)
def get_insights(
    request: Request,
    principal: Auth,
    kind: Annotated[str | None, Query(description="Only this detector, e.g. idle_gpu.")] = None,
    owner: Annotated[str | None, Query(description="Only this owner (team).")] = None,
    limit: Limit = 100,
) -> list[m.FindingOut]:
    """The findings ``mlcost insights`` stored, largest expected monthly saving first. A team
    token sees its own teams' findings only."""
    from mlcost.insights import load_findings

    config = _settings(request).attribution
    found = _cached(request, ("insights",), lambda wh: load_findings(wh, config))
    scoped = principal.teams
    out = []
    for f in found:
        if scoped is not None and (f.owner is None or f.owner not in scoped):
            continue
        if (kind is not None and f.kind != kind) or (owner is not None and f.owner != owner):
            continue
        s = f.monthly_saving
        out.append(
            m.FindingOut(
                id=f.id,
                kind=f.kind,
                resource_id=f.resource_id,
                owner=f.owner,
                saving_low=m.money(s.low, s.currency),
                saving_expected=m.money(s.expected, s.currency),
                saving_high=m.money(s.high, s.currency),
                confidence=f.confidence,
                action=f.action,
                evidence=f.evidence,
                resource_name=f.resource_name,
                saving_type=f.saving_type,
            )
        )
    out.sort(key=lambda x: -Decimal(x.saving_expected.amount))
    return out[:limit]


@router.get("/insights/plan", tags=["insights"], summary="Savings plan without overlap")
def get_insights_plan(request: Request, principal: Auth) -> dict[str, Any]:
    """The stored findings resolved into one plan (``mlcost insights --plan --format json``):
    each resource-hour's saving counted once (stop idle, rightsize, spot, then commit on what is
    left), one-off waste apart. A team token sees its own teams' actions and one-off waste, as
    resolved against the whole organization's plan."""
    from mlcost.insights import stored_plan

    config = _settings(request).attribution
    plan = _cached(request, ("insights-plan",), lambda wh: stored_plan(wh, config))
    if principal.teams is not None:
        plan = plan.for_owners(principal.teams)
    body: dict[str, Any] = plan.as_dict()
    return body


# -- budgets and alerts --------------------------------------------------------------------


def _visible_budgets(request: Request, principal: Principal) -> tuple[BudgetConfig, ...]:
    budgets = _settings(request).budgets
    scoped = principal.teams
    if scoped is None:
        return budgets
    teams = _teams(request)
    out = []
    for b in budgets:
        owners = teams.budget_teams(b)
        if owners and owners <= scoped:
            out.append(b)
    return tuple(out)


def _budget(st: BudgetStatus) -> m.BudgetOut:
    f, cur = st.forecast, st.currency

    def opt(x: float | None) -> m.Money | None:
        return None if x is None else m.money(x, cur, 2)

    return m.BudgetOut(
        name=st.budget.name,
        scope={k: list(v) for k, v in st.budget.scope.items()},
        period_start=st.period_start,
        period_end=st.period_end,
        amount=m.money(st.budget.amount, cur),
        spent=m.money(st.spent, cur),
        used=round(st.used, 6),
        forecast=opt(f.total),
        forecast_low=opt(f.low),
        forecast_high=opt(f.high),
        forecast_note=f.reason or f.model,
        crossed=[f"{c.kind} {c.threshold:.0%}" for c in st.crossed],
    )


@router.get("/budgets", response_model=list[m.BudgetOut], tags=["budgets"], summary="Status")
def get_budgets(
    request: Request,
    principal: Auth,
    as_of: Annotated[
        date | None, Query(description="Day to evaluate (default: the latest day with spend).")
    ] = None,
) -> list[m.BudgetOut]:
    """Each budget of ``mlcost.toml`` in its current period: spent, forecast, crossed. A team
    token sees the budgets scoped to its own teams."""
    from mlcost.budgets import statuses

    budgets = _visible_budgets(request, principal)
    found = _cached(
        request,
        ("budgets", tuple(b.name for b in budgets), as_of),
        lambda wh: statuses(wh, budgets, as_of=as_of),
    )
    return [_budget(st) for st in found]


@router.get("/alerts", response_model=list[m.Alert], tags=["budgets"], summary="Recorded alerts")
def get_alerts(request: Request, principal: Auth, limit: Limit = 100) -> list[m.Alert]:
    """Alerts recorded by ``mlcost budgets check`` / ``mlcost watch``, newest first. A team
    token sees the alerts of its own budgets."""
    from mlcost.notify import recorded_alerts

    rows = _cached(request, ("alerts",), recorded_alerts)
    if principal.teams is not None:
        names = {b.name for b in _visible_budgets(request, principal)}
        rows = [r for r in rows if r["source"] == "budget" and r["subject"] in names]
    out = []
    for r in rows[:limit]:
        cur = r["currency"] or "USD"
        out.append(
            m.Alert(
                alert_key=r["alert_key"],
                source=r["source"],
                subject=r["subject"],
                kind=r["kind"],
                period_start=r["period_start"],
                threshold=r["threshold"],
                amount=None if r["amount"] is None else m.money(r["amount"], cur, 2),
                limit=None if r["limit_amount"] is None else m.money(r["limit_amount"], cur, 2),
                message=r["message"],
                created_at=r["created_at"],
                delivered=bool(r["delivered"]),
            )
        )
    return out


# -- policies ------------------------------------------------------------------------------


@router.get(
    "/policies/check",
    response_model=list[m.ViolationOut],
    tags=["policies"],
    summary="Violations (read:all)",
)
def get_policy_check(request: Request, principal: Auth) -> list[m.ViolationOut]:
    """What ``mlcost policies check`` reports: every violation, read-only (nothing acts)."""
    from mlcost.policies import check

    require_read_all(principal)
    settings = _settings(request)
    with _reader(request).open() as wh:
        found = check(
            wh,
            settings.policies,
            budgets=settings.budgets,
            attribution=settings.attribution,
            owners=settings.owners,
        )
    return [m.ViolationOut(**asdict(v)) for v in found]


@router.get(
    "/policies/audit",
    response_model=list[m.AuditEntry],
    tags=["policies"],
    summary="Audit of guardrail decisions (read:all)",
)
def get_audit(request: Request, principal: Auth, limit: Limit = 100) -> list[m.AuditEntry]:
    """The ``actions`` table, newest first: who acted on what, why, and how it ended."""
    from mlcost.policies import audit_rows

    require_read_all(principal)
    rows = _cached(request, ("audit",), audit_rows)
    return [m.AuditEntry(**r) for r in rows[:limit]]


# -- catalog -------------------------------------------------------------------------------

Purchase = Literal["ondemand", "spot", "reserved_1y"]


@router.get(
    "/catalog/gpus",
    response_model=list[m.GpuListingOut],  # type: ignore[valid-type]
    tags=["catalog"],
    summary="GPUs",
)
def get_gpus(
    principal: Auth,
    gpu: str | None = None,
    cloud: str | None = None,
    instance_type: str | None = None,
    min_memory_gib: Annotated[float | None, Query(ge=0, le=1e6, allow_inf_nan=False)] = None,
    purchase: Purchase = "ondemand",
    sort: Literal["price", "gpu-price", "memory", "name"] = "price",
    limit: Limit = 500,
) -> list[Any]:
    """What ``mlcost gpus`` lists: each instance type at its cheapest region."""
    from mlcost.catalog import list_gpus

    found = list_gpus(
        gpu=gpu,
        cloud=cloud,
        instance_type=instance_type,
        min_memory_gib=min_memory_gib,
        purchase=purchase,
        sort=sort,
    )
    return [m.answer(m.GpuListingOut, g) for g in found[:limit]]


@router.get(
    "/catalog/offers",
    response_model=list[m.OfferOut],  # type: ignore[valid-type]
    tags=["catalog"],
    summary="Offers",
)
def get_offers(
    principal: Auth,
    gpu: str | None = None,
    cloud: str | None = None,
    instance_type: str | None = None,
    region: str | None = None,
    limit: Limit = 500,
) -> list[Any]:
    """Every catalog offer (instance type x region), filtered; prices in USD per hour."""
    from mlcost.catalog import canonical_gpu, offers

    wanted = canonical_gpu(gpu) if gpu else None
    out = []
    for o in offers():
        if (
            (wanted is not None and o.gpu != wanted)
            or (cloud is not None and o.cloud != cloud)
            or (instance_type is not None and o.instance_type != instance_type)
            or (region is not None and o.region != region)
        ):
            continue

        out.append(m.answer(m.OfferOut, o))
        if len(out) >= limit:
            break
    return out


# -- planners ------------------------------------------------------------------------------


def request_query(cls: type, exclude: tuple[str, ...] = ()) -> Callable[..., Any]:
    """A FastAPI dependency taking a planner request's fields (``mlcost.plan.requests``) as
    query parameters, with their choices, bounds and help, and returning the field values."""
    import inspect
    import typing

    from mlcost.plan.requests import optional_base, request_fields

    hints = typing.get_type_hints(cls)
    params = []
    for f in request_fields(cls):
        meta = f.metadata
        if f.name in exclude or not meta.get("api", True):
            continue
        hint: Any = hints[f.name]
        base = optional_base(hint)
        if meta["choices"]:
            choice: Any = Literal[meta["choices"]]
            hint = list[choice] | None if base is tuple else choice
        bounds = {k: meta[k] for k in ("ge", "gt", "le") if meta[k] is not None}
        if base is float:
            bounds["allow_inf_nan"] = False
        query = Query(description=meta["help"] or None, **bounds)
        required = f.default is dataclasses.MISSING
        default = inspect.Parameter.empty if required else f.default
        if base is tuple:
            default = None
        params.append(
            inspect.Parameter(
                (meta["flag"] or f.name).replace("-", "_"),
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=Annotated[hint, query],
            )
        )
    names = {
        (f.metadata.get("flag") or f.name).replace("-", "_"): f.name for f in request_fields(cls)
    }

    def values(**kw: Any) -> dict[str, Any]:
        out = {names[k]: v for k, v in kw.items()}
        return {k: tuple(v) if isinstance(v, list) else v for k, v in out.items() if v is not None}

    values.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return values


MemoryQuery = Annotated[dict[str, Any], Depends(request_query(MemoryRequest))]


@router.get(
    "/plan/memory", response_model=m.MemoryEstimateOut, tags=["planners"], summary="GPU memory"
)
def plan_memory(principal: Auth, q: MemoryQuery) -> Any:
    """Peak memory per GPU and its breakdown, as ``mlcost plan memory``."""
    est = _memory_request(q).run()
    return m.answer(m.MemoryEstimateOut, est, per_gpu_gib=round(est.per_gpu_gib, 3))


def _memory_request(q: dict[str, Any]) -> MemoryRequest:
    if q.get("model") is None and q.get("params") is None:
        raise _bad("model", "give model=<preset> (e.g. llama-3-8b) or params=<count>.")
    return MemoryRequest(**q)


@router.get("/plan/gpu", response_model=m.GpuPlanOut, tags=["planners"], summary="Cheapest GPU")
def plan_gpu(
    principal: Auth,
    q: MemoryQuery,
    g: Annotated[dict[str, Any], Depends(request_query(GpuRequest, exclude=("job",)))],
) -> Any:
    """Cheapest instances that fit, per purchase option, with cost-to-train when ``tokens``
    is given, as ``mlcost plan gpu``; a CPU instance first when a GPU would be waste."""
    job = MemoryRequest(**q) if "memory_gib" in g else _memory_request(q)
    return m.answer(m.GpuPlanOut, GpuRequest(job=job, **g).run())


@router.get("/plan/spot", response_model=m.SpotPlanOut, tags=["planners"], summary="Spot or not")
def plan_spot_route(
    principal: Auth, q: Annotated[dict[str, Any], Depends(request_query(SpotRequest))]
) -> Any:
    """Spot vs on-demand for one job, as ``mlcost plan spot``."""
    return m.answer(m.SpotPlanOut, SpotRequest(**q).run())


@router.get("/plan/tco", response_model=m.TcoPlanOut, tags=["planners"], summary="Managed or own")
def plan_tco_route(
    principal: Auth, q: Annotated[dict[str, Any], Depends(request_query(TcoRequest))]
) -> Any:
    """Managed vs self-hosted on-demand / reserved / spot over a horizon, the managed
    service's hidden costs and the overheads as parameters, as ``mlcost plan tco``."""
    return m.answer(m.TcoPlanOut, TcoRequest(**q).run())


# -- unit costs ----------------------------------------------------------------------------


@router.get("/units", tags=["units"], summary="Unit costs with numerator and denominator")
def get_units(
    request: Request,
    principal: Auth,
    by: Annotated[Literal["model", "experiment", "owner"], Query()] = "model",
    month: Annotated[str | None, Query(pattern=MONTH, description="YYYY-MM.")] = None,
    metric: Annotated[
        str | None, Query(max_length=_MAX_NAME, description="Run metric, e.g. eval_loss.")
    ] = None,
    higher_is_better: bool = False,
    api_input_price: Annotated[
        float | None, Query(ge=0, le=1e6, description="An API's USD per 1M input tokens.")
    ] = None,
    api_output_price: Annotated[
        float | None, Query(ge=0, le=1e6, description="Its USD per 1M output tokens.")
    ] = None,
) -> dict[str, Any]:
    """What ``mlcost units --format json`` prints (read:all: models and experiments cross
    teams). Read as built: run ``mlcost showback --month M`` after new data."""
    from mlcost.attribution import month_window
    from mlcost.attribution.unit_costs import unit_costs
    from mlcost.plan import versus_api

    require_read_all(principal)
    if metric is not None:
        _printable("metric", metric)
    start, end = month_window(_month(month)) if month else (None, None)
    result = _cached(
        request,
        ("units", by, month, metric, higher_is_better),
        lambda wh: unit_costs(
            wh, by, start, end, metric=metric, lower_is_better=not higher_is_better
        ),
    )
    if (api_input_price is None) != (api_output_price is None):
        raise _bad("api_input_price", "give both api_input_price and api_output_price.")
    if api_input_price is not None and api_output_price is not None:
        result = result.with_rows(*versus_api(result.rows, api_input_price, api_output_price))
    body: dict[str, Any] = result.as_dict()
    return body
