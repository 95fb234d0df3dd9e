"""What every executor shares: the error it raises, the interface, and acting with retries.

An executor raises :class:`ExecutorError` for whatever its system answered (an API error, an
unreachable endpoint, missing credentials), saying whether a retry may pass
(``retryable``: HTTP 5xx, throttling, timeouts, a refused connection) and, where there is one,
the fix. :func:`run_action` and :func:`with_retries` retry only those, with exponential
backoff, and never raise for them: the enforce loop records a failed decision and goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from mlcost.config import redact
from mlcost.errors import MlcostError

__all__ = ["Executor", "ExecutorError", "Outcome", "run_action", "with_retries"]

# Seconds before the first retry; each next wait doubles (1 s, 2 s, 4 s, ...).
DEFAULT_BACKOFF = 1.0
DEFAULT_ATTEMPTS = 3


class ExecutorError(MlcostError, RuntimeError):
    """An executor could not act on a resource (the audit row says why).

    ``retryable``: the same call may pass later (HTTP 5xx, throttling, a timeout, a refused
    connection); never for a credential, permission or validation error. ``fix``: what the
    operator can do, where known. The message is redacted (no URL paths or query secrets).
    """

    def __init__(self, message: str, *, retryable: bool = False, fix: str | None = None) -> None:
        self.retryable = retryable
        self.fix = fix
        self.problem = redact(message)  # without the fix
        super().__init__(f"{self.problem}. Fix: {fix}" if fix else self.problem)


class Executor(Protocol):
    """Acts on one kind of resource."""

    name: str
    actions: frozenset[str]
    inactive: frozenset[str]  # states in which there is nothing left to stop

    def target(self, resource_id: str) -> str | None:
        """The id this executor acts on for a warehouse resource id, or None if not its kind."""

    def tags(self, target: str) -> Mapping[str, str]:
        """The resource's live tags (the protect tag is read here, not from old bills)."""

    def state(self, target: str) -> str:
        """The resource's state as its system names it (running, stopped, ...)."""

    def act(self, action: str, target: str) -> str:
        """Take ``action``; return what the system answered."""


@dataclass(frozen=True)
class Outcome:
    """How an action ended. ``ok``: it was taken (``detail`` is the system's answer). Else
    ``error`` says why (redacted) and ``retryable`` whether a later run may pass."""

    ok: bool
    detail: str
    error: str | None = None
    retryable: bool = False


_T = TypeVar("_T")


def with_retries(
    call: Callable[[], _T],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> _T:
    """``call()``, tried up to ``attempts`` times while it raises a retryable
    :class:`ExecutorError`, waiting ``backoff`` seconds, then twice as long each time.

    Raises the last :class:`ExecutorError` (a retryable one after the last attempt, any
    other at once); any other exception from a client library becomes a non-retryable one,
    so that a caller only ever has ExecutorError to catch.
    """
    for attempt in range(1, max(1, attempts) + 1):
        try:
            return call()
        except ExecutorError as exc:
            if not exc.retryable or attempt >= attempts:
                if attempt > 1:
                    exc.args = (f"{exc.args[0]} (after {attempt} attempts)",)
                raise
        except Exception as exc:  # a client library's own error type we did not map
            raise ExecutorError(f"{type(exc).__name__}: {exc}") from exc
        sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


def run_action(
    executor: Executor,
    action: str,
    target: str,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Take ``action`` on ``target`` through ``executor``, retrying what may pass.

    Never raises for what the system answers (provider errors, HTTP 5xx, timeouts, a refused
    connection, missing credentials): those come back as ``Outcome(ok=False, …)`` with the
    redacted error. 5xx, throttling and timeouts are retried up to ``attempts`` times with
    exponential ``backoff`` (seconds, doubling); credential, permission and validation
    errors are not retried.

    >>> class Off:
    ...     name, actions, inactive = "demo", frozenset({"stop"}), frozenset()
    ...     def act(self, action, target): return f"{target} stopped"
    >>> run_action(Off(), "stop", "i-0abc")  # doctest: +ELLIPSIS
    Outcome(ok=True, detail='i-0abc stopped', error=None, retryable=False)
    >>> run_action(Off(), "terminate", "i-0abc").error
    "demo cannot 'terminate'; it can stop"
    """
    if action not in executor.actions:
        error = f"{executor.name} cannot {action!r}; it can {', '.join(sorted(executor.actions))}"
        return Outcome(False, f"{action} {target}: not taken", error, False)
    try:
        answer = with_retries(
            lambda: executor.act(action, target), attempts=attempts, backoff=backoff, sleep=sleep
        )
    except ExecutorError as exc:
        return Outcome(False, f"{action} {target}: not taken", str(exc), exc.retryable)
    return Outcome(True, redact(answer))
