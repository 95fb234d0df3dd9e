"""Pydantic response models of the REST API: what the OpenAPI schema promises.

Money is a decimal string with its currency (``{"amount": "1234.56", "currency": "USD"}``):
JSON numbers would lose cents on the way through a float. Spend amounts keep the warehouse's
full precision, so they equal :func:`mlcost.spend` digit for digit.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Context, Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, create_model

from mlcost.catalog import GpuListing, Offer
from mlcost.plan import Fit, GpuPlan, MemoryEstimate, SpotPlan

__all__ = [
    "ERROR_RESPONSES",
    "Alert",
    "AuditEntry",
    "BudgetOut",
    "Error",
    "FindingOut",
    "GpuListingOut",
    "GpuPlanOut",
    "Me",
    "MemoryEstimateOut",
    "Money",
    "OfferOut",
    "ShowbackOut",
    "SpendOut",
    "SpendRow",
    "SpotPlanOut",
    "StatementOut",
    "TokenOut",
    "ViolationOut",
    "answer",
    "derived",
    "money",
]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# The warehouse keeps naive UTC timestamps; RFC 3339 (OpenAPI's date-time) needs the offset.
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class Money(BaseModel):
    amount: str = Field(description="A decimal number as a string, e.g. '1234.56'.")
    currency: str = Field(description="ISO 4217 code, e.g. 'USD'.")


def money(amount: Decimal | float | int | None, currency: str, places: int | None = None) -> Money:
    """``Money`` from a Decimal (kept exact) or a float (rounded to ``places``, default 6)."""
    if amount is None:
        value = Decimal(0)
    elif isinstance(amount, Decimal):
        value = amount
    else:
        value = Decimal(str(round(float(amount), 6 if places is None else places)))
    if places is not None:
        # Enough digits for any finite amount: the default 28 refuse e.g. a spot plan's
        # 5.6e204 USD (a job that all but never finishes) with InvalidOperation.
        digits = Context(prec=max(28, value.adjusted() + places + 2))
        value = value.quantize(Decimal(1).scaleb(-places), context=digits)
    return Money(amount=format(value, "f"), currency=currency)


# How each derived model turns its dataclass into itself: {field: (API name, places)} for money,
# {field: model} for nested results.
_MONEY: dict[type[BaseModel], Mapping[str, tuple[str, int | None]]] = {}
_NESTED: dict[type[BaseModel], Mapping[str, type[BaseModel]]] = {}


def _api_type(hint: Any) -> Any:
    """A dataclass field's type as pydantic should see it (tuples and mappings as JSON)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(_api_type(a) for a in typing.get_args(hint))]  # noqa: UP007
    if origin is tuple:
        return list[typing.get_args(hint)[0]]  # type: ignore[misc]
    if origin is Mapping:
        k, v = typing.get_args(hint)
        return dict[k, v]  # type: ignore[valid-type]
    return hint


def derived(
    cls: type,
    *,
    money: Mapping[str, tuple[str, int | None]] | None = None,
    nested: Mapping[str, type[BaseModel]] | None = None,
    nullable: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> type[BaseModel]:
    """A response model with the fields of the result dataclass ``cls``, in its order: amounts
    in ``money`` become :class:`Money` under their API name (its ``currency`` field goes into
    each), ``nested`` results their own models, ``nullable`` fields (with a description) null
    where the library gives an infinite number; ``extra`` adds computed fields."""
    money, nested, nullable = money or {}, nested or {}, nullable or {}
    hints = typing.get_type_hints(cls)
    spec: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name == "currency" and money:
            continue
        hint = _api_type(hints[f.name])
        name = f.name
        if f.name in money:
            name = money[f.name][0]
            hint = Money | None if type(None) in typing.get_args(hint) else Money
        if f.name in nested:
            hint = list[nested[f.name]]  # type: ignore[valid-type,name-defined]
        if f.name in nullable:
            hint = hint | None
            desc = nullable[f.name]
            spec[name] = (hint, Field(description=desc) if desc else ...)
            continue
        spec[name] = (hint, ...)
    for name, hint in (extra or {}).items():
        spec[name] = (hint, ...)
    model: type[BaseModel] = create_model(f"{cls.__name__}Out", **spec)
    _MONEY[model], _NESTED[model] = money, nested
    return model


def answer(model: type[BaseModel], obj: Any, **extra: Any) -> Any:
    """An instance of a :func:`derived` model from its library result ``obj``."""
    amounts, nested = _MONEY[model], _NESTED[model]
    currency = getattr(obj, "currency", "USD")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name == "currency" and amounts:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        if f.name in amounts:
            name, places = amounts[f.name]
            values[name] = None if value is None else money(value, currency, places)
        elif f.name in nested:
            values[f.name] = [answer(nested[f.name], v) for v in value]
        else:
            values[f.name] = dict(value) if isinstance(value, Mapping) else value
    return model(**values, **extra)


class Error(BaseModel):
    detail: str = Field(description="What went wrong and how to fix it.")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Error, "description": text}
    for code, text in (
        (400, "A parameter names something that does not exist; the message says the fix."),
        (401, "No token, or an unknown or revoked one."),
        (403, "The token's scopes do not allow this."),
        (503, "The warehouse cannot be opened (missing, or locked by a writer)."),
    )
}


class Me(BaseModel):
    token_id: str
    scopes: list[str]
    teams: list[str] | None = Field(description="Teams readable; null: every team.")
    admin: bool


class TokenOut(BaseModel):
    token_id: str
    name: str
    scopes: list[str]
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None
    expires_at: UtcDatetime | None = None


class SpendRow(BaseModel):
    keys: dict[str, str | None] = Field(description="Value of each dimension of `by`.")
    cost: Money
    other_teams: bool = Field(
        False, description="True on the one row that sums every team a team token cannot read."
    )


class SpendOut(BaseModel):
    by: list[str]
    metric: str
    start: date | None = Field(description="Inclusive, on ChargePeriodStart (UTC).")
    end: date | None = Field(description="Exclusive.")
    teams: list[str] | None = Field(description="Rows limited to these teams; null: all.")
    rows: list[SpendRow]
    totals: list[Money] = Field(description="The sum of every row, per currency.")


class StatementOut(BaseModel):
    owner: str
    direct: Money
    shared: Money
    gpu_used: Money
    gpu_idle: Money
    gpu_unmeasured: Money
    gpu_unallocated: Money
    unallocated: Money
    total: Money
    billed: Money
    gpu_hours: float
    coverage: float | None
    by_workload_type: dict[str, Money]
    by_model: dict[str, Money]


class ShowbackOut(BaseModel):
    month: str
    owner_key: str
    currency: str
    statements: list[StatementOut]
    other_owners_total: Money | None = Field(
        description="For team tokens: the total of every statement not shown; else null."
    )
    bill_effective: Money
    allocated_effective: Money
    balanced: bool
    note: str | None = None


class FindingOut(BaseModel):
    id: str
    kind: str
    resource_id: str | None  # the billed ResourceId where the finding is about one
    owner: str | None
    saving_low: Money
    saving_expected: Money
    saving_high: Money
    confidence: float
    action: str
    evidence: dict[str, Any]
    resource_name: str | None = None
    # recurring: the saving_* figures are a month's saving; one_off: money already spent once
    saving_type: str = "recurring"


class BudgetOut(BaseModel):
    name: str
    scope: dict[str, list[str]]
    period_start: date
    period_end: date = Field(description="Exclusive.")
    amount: Money
    spent: Money
    used: float = Field(description="Spent / amount.")
    forecast: Money | None
    forecast_low: Money | None
    forecast_high: Money | None
    forecast_note: str | None
    crossed: list[str] = Field(description="e.g. 'actual 75%', 'forecast 100%'.")


class Alert(BaseModel):
    alert_key: str
    source: str
    subject: str
    kind: str
    period_start: date | None
    threshold: float | None
    amount: Money | None
    limit: Money | None
    message: str
    created_at: UtcDatetime
    delivered: bool = Field(description="Sent on every channel.")


class ViolationOut(BaseModel):
    policy: str
    resource_id: str  # the billed ResourceId where the resource is billed
    action: str
    executor: str
    reason: str
    resource_name: str | None = None
    workload_id: str | None = None
    owner: str | None = None
    # What the executor needs: of the billed resource, and what the target is (issue 21).
    provider: str | None = None
    account: str | None = None
    region: str | None = None
    resource_type: str | None = None


class AuditEntry(BaseModel):
    acted_at: UtcDatetime
    actor: str
    policy: str
    resource_id: str
    action: str
    executor: str | None
    mode: str
    outcome: str
    reason: str
    detail: str | None


# Catalog and planner answers: derived from the library's result dataclasses, so a field
# added there shows up here. Amounts in USD become Money under the API's name for them.
GpuListingOut = derived(
    GpuListing,
    money={
        "usd_per_hour": ("price_per_hour", None),
        "usd_per_gpu_hour": ("price_per_gpu_hour", None),
    },
)
OfferOut = derived(
    Offer,
    money={
        "ondemand_usd_per_hour": ("ondemand_per_hour", None),
        "spot_usd_per_hour": ("spot_per_hour", None),
        "reserved_1y_usd_per_hour": ("reserved_1y_per_hour", None),
    },
)
MemoryEstimateOut = derived(MemoryEstimate, extra={"per_gpu_gib": float})
FitOut = derived(
    Fit, money={"usd_per_hour": ("price_per_hour", None), "train_cost": ("train_cost", 2)}
)
GpuPlanOut = derived(GpuPlan, nested={"fits": FitOut})
SpotPlanOut = derived(
    SpotPlan,
    money={
        "spot_cost": ("spot_cost", 2),
        "ondemand_cost": ("ondemand_cost", 2),
        "saving": ("saving", 2),
    },
    nullable={
        "spot_wall_hours": "Null (also spot_cost, saving, saving_pct): interrupted so often "
        "that the job is not expected to finish on spot.",
        "spot_cost": "",
        "saving": "",
        "saving_pct": "",
    },
)
