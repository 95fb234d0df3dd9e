"""Budget alarms and the improvement-per-dollar stopping rule. Pure: no clock, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

__all__ = ["WARN_AT", "Plateau", "StopRule", "budget_seconds"]

WARN_AT: tuple[float, ...] = (0.75, 0.90)


@dataclass(frozen=True)
class StopRule:
    """Stop when ``metric`` improves by less than ``min_improvement_per_dollar`` per dollar
    (per unit of the run's currency) at ``patience`` evaluations in a row.

    ``mode="min"`` for losses, ``"max"`` for accuracies. Improvement is measured against the
    best value so far, so a worse evaluation counts as zero improvement.
    """

    metric: str
    min_improvement_per_dollar: float
    patience: int = 3
    mode: Literal["min", "max"] = "min"

    def __post_init__(self) -> None:
        if self.patience < 1:
            raise ValueError(f"patience must be at least 1, got {self.patience}")
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")


class Plateau:
    """The state of one :class:`StopRule` over a run's evaluations."""

    def __init__(self, rule: StopRule) -> None:
        self.rule = rule
        self.best: float | None = None
        self.last_cost: Decimal | None = None
        self.strikes = 0
        self.last_rate: float | None = None

    def observe(self, value: float, cost: Decimal) -> str | None:
        """Record one evaluation at ``cost`` spent so far; a reason to stop, or None."""
        sign = 1.0 if self.rule.mode == "min" else -1.0
        if self.best is None or self.last_cost is None:
            self.best, self.last_cost = value, cost
            return None
        spent = float(cost - self.last_cost)
        if spent <= 0:
            return None  # nothing spent since the last evaluation: no rate to judge
        improvement = max(0.0, sign * (self.best - value))
        self.last_rate = improvement / spent
        if sign * value < sign * self.best:
            self.best = value
        self.last_cost = cost
        if self.last_rate < self.rule.min_improvement_per_dollar:
            self.strikes += 1
        else:
            self.strikes = 0
        if self.strikes >= self.rule.patience:
            return (
                f"{self.rule.metric} improved {self.last_rate:.4g} per dollar, under "
                f"{self.rule.min_improvement_per_dollar:g}, {self.strikes} evaluations in a row."
            )
        return None


def budget_seconds(
    *, max_cost: Decimal | None, max_hours: float | None, hourly_price: Decimal | None
) -> tuple[float | None, str]:
    """Seconds of run time the budget allows (the tighter of cost and hours), and which limit
    that is, in words; ``(None, why)`` when nothing can be enforced."""
    limits: list[tuple[float, str]] = []
    if max_hours is not None:
        limits.append((max_hours * 3600, f"max_hours={max_hours:g}"))
    if max_cost is not None and hourly_price is not None and hourly_price > 0:
        limits.append((float(max_cost / hourly_price) * 3600, f"max_cost={max_cost}"))
    if not limits:
        why = "no budget" if max_cost is None else "max_cost needs a price"
        return None, why
    return min(limits)
