"""``[budgets.<name>]``: amount, currency, scope, period and thresholds of each budget."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from mlcost.config._validate import _fractions, _iso_date, _strings, _table
from mlcost.errors import ConfigError

BUDGET_PERIODS = ("monthly", "quarterly", "custom")


@dataclass(frozen=True)
class BudgetConfig:
    """A budget: ``amount`` in ``currency`` per period for the spend that ``scope`` selects.

    ``scope`` maps a dimension (a FOCUS column or ``tag:<key>``; ``team``, ``project``,
    ``model`` and ``env`` mean their tags; ``owner`` means attribution's owner) to the values
    it may take; empty: all spend. An ``owner`` budget counts the owner's direct cost
    (``basis = "direct"``, showback's ``direct``) or direct plus shared plus its unclaimed GPU
    capacity (``basis = "total"``, showback's ``total``).
    ``thresholds`` fire on actual spend, ``forecast_thresholds`` on the forecast, both as
    fractions of ``amount`` (AWS Budgets' defaults: 75%, 90%, 100% actual, 100% forecast).
    ``start``/``end`` (ISO dates, end exclusive) only for ``period = "custom"``.
    """

    name: str
    amount: Decimal
    currency: str
    scope: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    period: str = "monthly"
    start: date | None = None
    end: date | None = None
    thresholds: tuple[float, ...] = (0.75, 0.9, 1.0)
    forecast_thresholds: tuple[float, ...] = (1.0,)
    channels: tuple[str, ...] = ()
    metric: str = "EffectiveCost"
    basis: str = "direct"


BUDGET_BASES = ("direct", "total")


_SCOPE_TAGS = ("team", "project", "model", "env")


def parse_budgets(raw: object, *, where: str = "budgets") -> tuple[BudgetConfig, ...]:
    """Validate ``[budgets.<name>]`` tables; errors name ``where``.

    >>> table = {"amount": 500, "currency": "USD", "scope": {"team": "vision"}}
    >>> parse_budgets({"vision": table})[0].scope
    {'tag:team': ('vision',)}
    """
    known = frozenset(
        {
            "amount",
            "currency",
            "scope",
            "period",
            "start",
            "end",
            "thresholds",
            "forecast_thresholds",
            "channels",
            "metric",
            "basis",
        }
    )
    out = []
    for name, value in _table(raw, where, "budgets", None).items():
        label = f"budgets.{name}"
        t = _table(value, where, label, known)
        try:
            amount = Decimal(str(t["amount"]))
        except (KeyError, InvalidOperation) as exc:
            raise ConfigError(
                f"{where}: {label}.amount must be a number, e.g. amount = 5000."
            ) from exc
        # A budget of 0, a negative one (spend "700%" of -100) or nan/inf means nothing.
        if not amount.is_finite() or amount <= 0:
            raise ConfigError(
                f"{where}: {label}.amount must be a number above 0, e.g. amount = 5000; "
                f"got {t['amount']!r}."
            )
        currency = t.get("currency")
        if not isinstance(currency, str) or len(currency) != 3:
            raise ConfigError(f'{where}: {label}.currency must be an ISO code such as "USD".')
        period = t.get("period", "monthly")
        if period not in BUDGET_PERIODS:
            raise ConfigError(
                f"{where}: {label}.period is {period!r}; choose one of {', '.join(BUDGET_PERIODS)}."
            )
        start = _iso_date(t.get("start"), where, f"{label}.start")
        end = _iso_date(t.get("end"), where, f"{label}.end")
        if period == "custom" and (start is None or end is None or end <= start):
            raise ConfigError(
                f"{where}: {label} is custom: give start and a later end (ISO dates)."
            )
        scope = {
            (f"tag:{k}" if k in _SCOPE_TAGS else str(k)): _strings(v, where, f"{label}.scope.{k}")
            for k, v in _table(t.get("scope", {}), where, f"{label}.scope", None).items()
        }
        basis = t.get("basis", "direct")
        if basis not in BUDGET_BASES:
            raise ConfigError(
                f"{where}: {label}.basis is {basis!r}; choose one of {', '.join(BUDGET_BASES)}."
            )
        if "basis" in t and "owner" not in scope:
            raise ConfigError(
                f'{where}: {label}.basis needs an owner scope, e.g. scope = {{ owner = "vision" }}.'
            )
        out.append(
            BudgetConfig(
                name=str(name),
                amount=amount,
                currency=currency.upper(),
                scope=scope,
                period=str(period),
                start=start,
                end=end,
                thresholds=_fractions(
                    t.get("thresholds", [0.75, 0.9, 1.0]), where, f"{label}.thresholds"
                ),
                forecast_thresholds=_fractions(
                    t.get("forecast_thresholds", [1.0]), where, f"{label}.forecast_thresholds"
                ),
                channels=_strings(t.get("channels", []), where, f"{label}.channels"),
                metric=str(t.get("metric", "EffectiveCost")),
                basis=str(basis),
            )
        )
    return tuple(out)
