"""Pydantic response models of the REST API: what the OpenAPI schema promises.

Money is a decimal string with its currency (``{"amount": "1234.56", "currency": "USD"}``):
JSON numbers would lose cents on the way through a float. Spend amounts keep the warehouse's
full precision, so they equal :func:`mlcost.spend` digit for digit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Context, Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

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


class GpuListingOut(BaseModel):
    gpu: str
    gpu_count: int
    gpu_memory_gib: float | None
    cloud: str
    instance_type: str
    purchase: str
    price_per_hour: Money
    price_per_gpu_hour: Money
    cheapest_region: str
    regions: int
    interruption: str
    price_date: str


class OfferOut(BaseModel):
    cloud: str
    instance_type: str
    gpu: str
    gpu_count: int
    gpu_memory_gib: float | None
    vcpus: float | None
    memory_gib: float | None
    region: str
    zone: str
    ondemand_per_hour: Money | None
    spot_per_hour: Money | None
    reserved_1y_per_hour: Money | None
    interruption: str
    price_date: str
    source: str


class MemoryEstimateOut(BaseModel):
    model: str
    params: int
    mode: str
    precision: str
    per_gpu_bytes: int
    per_gpu_gib: float
    breakdown: dict[str, int]
    notes: list[str]


class FitOut(BaseModel):
    cloud: str
    instance_type: str
    region: str
    gpu: str
    gpu_count: int
    gpu_memory_gib: float
    nodes: int
    purchase: str
    price_per_hour: Money
    headroom_gib: float
    train_hours: float | None
    train_cost: Money | None


class GpuPlanOut(BaseModel):
    need_per_gpu_gib: float
    gpus: int
    mfu: float
    fits: list[FitOut]
    notes: list[str]


class SpotPlanOut(BaseModel):
    work_hours: float
    interruptions_per_hour: float
    checkpoint_interval_hours: float
    young_interval_hours: float
    daly_interval_hours: float
    spot_wall_hours: float | None = Field(
        description="Null (also spot_cost, saving, saving_pct): interrupted so often that the "
        "job is not expected to finish on spot."
    )
    spot_cost: Money | None
    ondemand_wall_hours: float
    ondemand_cost: Money
    saving: Money | None
    saving_pct: float | None
    pools: int
    worth_it: bool
    verdict: str
