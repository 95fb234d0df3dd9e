"""The tracker: what a run used and cost, a budget guard, and the spool records.

A background thread (``interval`` seconds apart) reads every visible GPU through NVML and
writes records to the sink every ``flush_seconds``; the training loop only calls
:meth:`Run.step`, which compares one clock reading with the next budget alarm. Nothing here
raises into the user's program except the stops the user asked for (:class:`RunStopped`).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from mlcost.errors import BudgetExceeded, NotWorthIt, RunStopped
from mlcost.runtime._budget import WARN_AT, Plateau, StopRule, budget_seconds
from mlcost.runtime._metadata import Instance, detect_instance
from mlcost.runtime._nvml import GpuReading, Nvml, open_nvml
from mlcost.runtime._records import SCHEMA, Sink, money, open_sink, rfc3339

__all__ = ["PURCHASE_OPTIONS", "Run", "current_run", "track"]

log = logging.getLogger("mlcost.runtime")
PURCHASE_OPTIONS = ("on-demand", "spot", "reserved")
_CATALOG_PURCHASE = {"on-demand": "ondemand", "spot": "spot", "reserved": "reserved_1y"}
_ACTIVE: list[Run] = []


def current_run() -> Run | None:
    """The innermost run being tracked in this process, or None."""
    return _ACTIVE[-1] if _ACTIVE else None


def _new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


class Run:
    """One tracked run. Create it with :func:`track`; use it as a context manager."""

    def __init__(
        self,
        name: str | None = None,
        *,
        tags: Mapping[str, str] | None = None,
        instance: str | None = None,
        region: str | None = None,
        cloud: str | None = None,
        purchase: str | None = None,
        hourly_price: float | Decimal | None = None,
        currency: str = "USD",
        max_cost: float | Decimal | None = None,
        max_hours: float | None = None,
        checkpoint: Callable[[], Any] | None = None,
        stop_rule: StopRule | None = None,
        interval: float = 5.0,
        flush_seconds: float = 30.0,
        spool: str | Path | None = None,
        server: str | None = None,
        sink: Sink | None = None,
        detect: bool = True,
        metadata_urls: Mapping[str, str] | None = None,
        gpu: bool = True,
        clock: Callable[[], float] = time.monotonic,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if purchase is not None and purchase not in PURCHASE_OPTIONS:
            raise ValueError(
                f"purchase must be one of {', '.join(PURCHASE_OPTIONS)}, got {purchase!r}"
            )
        self._env = os.environ if env is None else env
        self.started_at = datetime.now(UTC)
        self.run_id = _new_run_id(self.started_at)
        self.name = name or self.run_id
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self.instance_type = instance
        self.region = region
        self.cloud = cloud
        self.purchase = purchase
        self.resource_id: str | None = None
        self.currency = currency
        self.hourly_price = None if hourly_price is None else Decimal(str(hourly_price))
        self._price_given = hourly_price is not None
        self.max_cost = None if max_cost is None else Decimal(str(max_cost))
        self.max_hours = max_hours
        self.checkpoint_hook = checkpoint
        self.stop_rule = stop_rule
        self._plateau = Plateau(stop_rule) if stop_rule else None
        self.interval = interval
        self.flush_seconds = flush_seconds
        self._sink = sink or open_sink(
            self.run_id, spool=None if spool is None else Path(spool), server=server, env=env
        )
        self._detect = detect and instance is None
        self._metadata_urls = metadata_urls
        self._want_gpu = gpu
        self._clock = clock
        self.metrics: dict[str, float] = {}
        self.status = "running"
        self.stopped_reason: str | None = None
        self.saving: Decimal | None = None
        self.interruption: Any = None
        self.notes: list[str] = []
        self.gpu_reason = ""
        self.gpu_models: list[str] = []
        self.gpu_count = 0
        self.peak_memory_bytes: int | None = None
        self.checkpoint_seconds = 0.0
        self.checkpoints = 0
        self.interruptions_per_hour: float | None = None
        self._used_gpu_seconds = 0.0
        self._samples_seen = 0
        self._pending_samples: list[dict[str, Any]] = []
        self._t0 = 0.0
        self._t_end: float | None = None
        self._last_sample: float | None = None
        self._budget_s: float | None = None
        self._budget_label = ""
        self._warned: set[float] = set()
        self._next_alarm = float("inf")
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._nvml: Nvml | None = None
        self._pending_stop: RunStopped | None = None
        self._hook_ran = True

    # -- life cycle -------------------------------------------------------------------------

    def __enter__(self) -> Run:
        return self.start()

    def start(self) -> Run:
        """Start measuring (``with track(...)`` calls this)."""
        self._t0 = self._clock()
        _ACTIVE.append(self)
        self._resolve_price()
        self._arm_budget()
        self._thread = threading.Thread(target=self._loop, name="mlcost-tracker", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None:
            status = "stopped" if self.stopped_reason else "finished"
        elif isinstance(exc, RunStopped | SystemExit | KeyboardInterrupt):
            status = "stopped"
            if self.stopped_reason is None:
                self.stopped_reason = (
                    self.interruption.reason
                    if self.interruption is not None
                    else f"{type(exc).__name__}: {exc}".rstrip(": ")
                )
        else:
            status = "failed"
        self.finish(status)
        # A stop this run raised ends the with-block cleanly; anything else propagates.
        return isinstance(exc, RunStopped) and getattr(exc, "run_id", None) == self.run_id

    def finish(self, status: str = "finished") -> None:
        """Stop measuring and write the final record (``with`` does this)."""
        if self._t_end is not None:
            return
        self._ready.wait(timeout=5)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._t_end = self._clock()
        self.status = status
        if self._nvml is not None:
            self._sample(self._t_end)
            self._nvml.close()
        self._flush()
        self._sink.close()
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        from mlcost.runtime.integrations import log_to_experiment_trackers

        log_to_experiment_trackers(self)
        log.info("mlcost: %s", self.summary())

    # -- what the training loop calls -------------------------------------------------------

    def step(self, **metrics: float) -> None:
        """Call once per training step: records ``metrics`` and raises :class:`BudgetExceeded`
        or :class:`NotWorthIt` when the run must stop (after the checkpoint hook has run).
        Costs one clock reading when there is nothing to do."""
        if metrics:
            self.log(**metrics)
        if self._clock() >= self._next_alarm or self._pending_stop is not None:
            stop = self.check()
            if stop is not None:
                raise stop

    def check(self) -> RunStopped | None:
        """The stop that is due (after warning and running the checkpoint hook), or None.
        For loops that stop by flag (Hugging Face, Lightning) instead of by exception."""
        with self._lock:
            self._warn_budget(self._clock())
            if self._pending_stop is not None:
                self._run_checkpoint_hook()
            return self._pending_stop

    def log(self, **metrics: float) -> None:
        """Record metric values (the last value of each goes in the run record). The stop
        rule's metric, when present, is judged here."""
        for key, value in metrics.items():
            self.metrics[key] = float(value)
        rule = self._plateau
        if rule is not None and rule.rule.metric in metrics:
            cost = self.cost
            if cost is None:
                self._note("the stop rule needs a price: give instance= or hourly_price=")
                return
            reason = rule.observe(float(metrics[rule.rule.metric]), cost)
            if reason is not None:
                self._set_stop(NotWorthIt, f"Stopped: {reason}")

    def add_checkpoint_time(self, seconds: float) -> None:
        """Count ``seconds`` spent writing a checkpoint (``checkpoint()`` and the interruption
        save do this themselves)."""
        with self._lock:
            self.checkpoint_seconds += seconds
            self.checkpoints += 1

    @contextmanager
    def checkpointing(self) -> Iterator[None]:
        """Time a block that writes a checkpoint: ``with run.checkpointing(): torch.save(...)``."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.add_checkpoint_time(time.monotonic() - started)

    # -- figures ----------------------------------------------------------------------------

    @property
    def elapsed_seconds(self) -> float:
        end = self._t_end if self._t_end is not None else self._clock()
        return max(0.0, end - self._t0)

    @property
    def cost(self) -> Decimal | None:
        """Money spent so far at the instance's hourly price, in ``currency``; None if unknown."""
        if self.hourly_price is None:
            return None
        return self.hourly_price * Decimal(str(self.elapsed_seconds)) / 3600

    @property
    def gpu_hours(self) -> float:
        return self.gpu_count * self.elapsed_seconds / 3600

    @property
    def used_gpu_hours(self) -> float | None:
        """GPU-hours weighted by utilization (a GPU at 50% for an hour used half a GPU-hour);
        None without NVML readings."""
        return self._used_gpu_seconds / 3600 if self._samples_seen else None

    @property
    def checkpoint_share(self) -> float:
        """Checkpoint time as a share of run time (the goal is under 5%)."""
        elapsed = self.elapsed_seconds
        return self.checkpoint_seconds / elapsed if elapsed > 0 else 0.0

    def suggested_checkpoint_interval(self) -> float | None:
        """Hours of work between checkpoints that minimise expected time on spot (Daly 2006,
        from the measured checkpoint time and the catalog's interruption rate); None until a
        checkpoint was timed or when the rate is unknown."""
        if not self.checkpoints or not self.interruptions_per_hour:
            return None
        from mlcost.plan.spot import daly_interval

        per_checkpoint_h = self.checkpoint_seconds / self.checkpoints / 3600
        return daly_interval(per_checkpoint_h, 1 / self.interruptions_per_hour)

    def summary(self) -> str:
        """One paragraph for people: time, GPU-hours, cost, checkpoint share, why it stopped."""
        parts = [f"run {self.name} {self.status} after {self.elapsed_seconds / 3600:.3f} h"]
        if self.gpu_count:
            used = self.used_gpu_hours
            parts.append(
                f"{self.gpu_hours:.3f} GPU-hours on {self.gpu_count} x {self.gpu_model}"
                + ("" if used is None else f" ({used:.3f} used)")
            )
        if self.gpu_reason:
            parts.append(self.gpu_reason)
        cost = self.cost
        if cost is not None:
            parts.append(f"cost {cost:.2f} {self.currency}")
        else:
            parts.append("cost unknown (give instance= or hourly_price=)")
        if self.checkpoints:
            parts.append(f"checkpoints {self.checkpoint_share:.1%} of run time")
            interval = self.suggested_checkpoint_interval()
            if interval is not None:
                parts.append(f"suggested interval {interval * 60:.0f} min")
        if self.stopped_reason:
            parts.append(self.stopped_reason)
        return "; ".join(p.rstrip(".") for p in parts) + "."

    @property
    def gpu_model(self) -> str | None:
        return self.gpu_models[0] if self.gpu_models else None

    def record(self) -> dict[str, Any]:
        """The spool ``run`` record (schema 1) as it stands now."""
        end = None
        if self._t_end is not None:
            end = self.started_at + timedelta(seconds=self.elapsed_seconds)
        used = self.used_gpu_hours
        return {
            "schema": SCHEMA,
            "kind": "run",
            "run_id": self.run_id,
            "name": self.name,
            "tags": dict(self.tags),
            "start": rfc3339(self.started_at),
            "end": rfc3339(end),
            "status": self.status,
            "cloud": self.cloud,
            "region": self.region,
            "instance_type": self.instance_type,
            "purchase": self.purchase,
            "resource_id": self.resource_id,
            "gpu_model": self.gpu_model,
            "gpu_count": self.gpu_count,
            "gpu_hours": round(self.gpu_hours, 6),
            "used_gpu_hours": None if used is None else round(used, 6),
            "peak_memory_bytes": self.peak_memory_bytes,
            "hourly_price": money(self.hourly_price, self.currency),
            "cost": money(self.cost, self.currency),
            "checkpoint_seconds": round(self.checkpoint_seconds, 3),
            "metrics": dict(self.metrics),
            "stopped_reason": self.stopped_reason,
        }

    # -- internals --------------------------------------------------------------------------

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
            log.warning("mlcost: %s", text)

    def _apply_instance(self, found: Instance) -> None:
        self.cloud = self.cloud or found.cloud
        self.instance_type = self.instance_type or found.instance_type
        self.region = self.region or found.region
        self.purchase = self.purchase or found.purchase
        self.resource_id = self.resource_id or found.resource_id

    def _resolve_price(self) -> None:
        """Price, GPU count and interruption rate from the catalog, when the instance is known."""
        if self.instance_type is None:
            return
        self.purchase = self.purchase or "on-demand"
        from mlcost.catalog import offers
        from mlcost.errors import MlcostError

        matches = [
            o
            for o in offers()
            if o.instance_type == self.instance_type and self.cloud in (None, o.cloud)
        ]
        if matches:
            self.cloud = self.cloud or matches[0].cloud
            if not self.gpu_models:
                self.gpu_count = matches[0].gpu_count
                self.gpu_models = [matches[0].gpu] * matches[0].gpu_count
            if self.purchase == "spot":
                from mlcost.plan.spot import BUCKET_MONTHLY_SHARE, rate_from_bucket

                buckets = [o.interruption for o in matches if o.region == self.region] or [
                    o.interruption for o in matches
                ]
                if buckets and buckets[0] in BUCKET_MONTHLY_SHARE:
                    self.interruptions_per_hour = rate_from_bucket(buckets[0])
        if self._price_given:
            return
        from mlcost.catalog import hourly_price

        purchase = _CATALOG_PURCHASE[self.purchase]
        try:
            price = hourly_price(self.instance_type, region=self.region, purchase=purchase)  # type: ignore[arg-type]
        except MlcostError as exc:
            try:  # a region the catalog lacks: fall back to the cheapest region's price
                price = hourly_price(self.instance_type, purchase=purchase)  # type: ignore[arg-type]
                self._note(f"no {self.region} price in the catalog; used the cheapest region's")
            except MlcostError:
                self._note(f"cost unknown: {exc}")
                return
        self.hourly_price = Decimal(str(price))

    def _arm_budget(self) -> None:
        seconds, label = budget_seconds(
            max_cost=self.max_cost, max_hours=self.max_hours, hourly_price=self.hourly_price
        )
        if seconds is None and self.max_cost is not None:
            self._note(
                "max_cost cannot be enforced without a price: give instance= or hourly_price="
            )
        self._budget_s, self._budget_label = seconds, label
        self._next_alarm = self._alarm_after(self._t0)

    def _alarm_after(self, now: float) -> float:
        if self._budget_s is None:
            return float("inf")
        for fraction in (*WARN_AT, 1.0):
            at = self._t0 + fraction * self._budget_s
            if fraction not in self._warned:
                return at
        return float("inf")

    def _warn_budget(self, now: float) -> None:
        if self._budget_s is None:
            return
        used = (now - self._t0) / self._budget_s if self._budget_s > 0 else 1.0
        for fraction in WARN_AT:
            if used >= fraction and fraction not in self._warned:
                self._warned.add(fraction)
                spent = self.cost
                money_text = "" if spent is None else f" ({spent:.2f} {self.currency} spent)"
                log.warning(
                    "mlcost: run %s has used %.0f%% of its budget (%s)%s",
                    self.name,
                    100 * fraction,
                    self._budget_label,
                    money_text,
                )
        if used >= 1.0 and 1.0 not in self._warned:
            self._warned.add(1.0)
            self._set_stop(
                BudgetExceeded, f"Budget reached ({self._budget_label}); stopped the run cleanly."
            )
        self._next_alarm = self._alarm_after(now)

    def _saving(self) -> Decimal | None:
        """Money the stop kept from being spent: the rest of the budget, where there is one."""
        spent = self.cost
        if spent is None:
            return None
        caps: list[Decimal] = []
        if self.max_cost is not None:
            caps.append(self.max_cost)
        if self.max_hours is not None and self.hourly_price is not None:
            caps.append(self.hourly_price * Decimal(str(self.max_hours)))
        if not caps:
            return None
        return max(Decimal(0), min(caps) - spent)

    def _set_stop(self, kind: type[RunStopped], reason: str) -> None:
        with self._lock:
            if self._pending_stop is not None:
                return
            self.saving = self._saving() if kind is NotWorthIt else None
            if kind is NotWorthIt and self.saving is None:
                reason += " Give max_cost or max_hours to see what stopping saved."
            stop = kind(reason, saving=self.saving, currency=self.currency)
            stop.run_id = self.run_id  # type: ignore[attr-defined]
            self._pending_stop = stop
            self.stopped_reason = str(stop)
            self._hook_ran = False
            self._next_alarm = self._clock()

    def _run_checkpoint_hook(self) -> None:
        if self._hook_ran:
            return
        self._hook_ran = True
        if self.checkpoint_hook is not None:
            with self.checkpointing():
                self.checkpoint_hook()

    def _sample(self, now: float) -> None:
        if self._nvml is None:
            return
        try:
            readings = self._nvml.read()
        except Exception as exc:  # a lost device must not stop training
            self._note(f"NVML read failed: {exc}")
            return
        dt = 0.0 if self._last_sample is None else now - self._last_sample
        self._last_sample = now
        stamp = rfc3339(self.started_at + timedelta(seconds=now - self._t0))
        with self._lock:
            for r in readings:
                self._account(r, dt)
                self._pending_samples.append(self._sample_record(r, stamp))
            self._samples_seen += 1

    def _account(self, r: GpuReading, dt: float) -> None:
        if r.utilization is not None:
            self._used_gpu_seconds += r.utilization * dt
        if r.memory_used_bytes is not None:
            self.peak_memory_bytes = max(self.peak_memory_bytes or 0, r.memory_used_bytes)

    def _sample_record(self, r: GpuReading, stamp: str | None) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "kind": "gpu_sample",
            "run_id": self.run_id,
            "resource_id": self.resource_id,
            "time": stamp,
            "gpu_index": r.index,
            "uuid": r.uuid,
            "gpu_model": r.model,
            "utilization": r.utilization,
            "memory_used_bytes": r.memory_used_bytes,
            "memory_total_bytes": r.memory_total_bytes,
            "power_watts": r.power_watts,
        }

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending_samples = self._pending_samples, []
            batch.append(self.record())
        try:
            self._sink.write(batch)
        except Exception as exc:  # sinks should not raise; this is the last guard
            self._note(f"could not write records: {exc}")

    def _setup(self) -> None:
        if self._detect:
            found = detect_instance(urls=self._metadata_urls, env=self._env)
            if found is not None:
                self._apply_instance(found)
                self._resolve_price()
                with self._lock:
                    self._arm_budget()
        if self._want_gpu:
            self._nvml, self.gpu_reason = open_nvml(self._env)
        else:
            self.gpu_reason = "no GPU: GPU sampling turned off (gpu=False)"
        if self._nvml is not None:
            self.gpu_models = self._nvml.models
            self.gpu_count = self._nvml.count
        else:
            log.info("mlcost: %s; recording wall time only", self.gpu_reason)

    def _loop(self) -> None:
        try:
            self._setup()
        except Exception as exc:
            self._note(f"tracker setup failed ({exc}); recording wall time only")
        finally:
            self._ready.set()
        last_flush = self._clock()
        self._flush()
        while not self._stop.wait(self.interval):
            try:
                now = self._clock()
                self._sample(now)
                with self._lock:
                    self._warn_budget(now)
                if now - last_flush >= self.flush_seconds:
                    last_flush = now
                    self._flush()
            except Exception as exc:
                self._note(f"tracker thread error: {exc}")


def track(
    run: str | None = None,
    *,
    tags: Mapping[str, str] | None = None,
    instance: str | None = None,
    **options: Any,
) -> Run:
    """Track a run: ``with mlcost.track(run="llama-ft", instance="p4d.24xlarge") as r: ...``.

    Records wall time, GPU-hours (used vs idle), peak GPU memory and cost at the catalog price
    of ``instance`` (detected from the cloud's metadata endpoint when not given; ``purchase``
    defaults to what the cloud says, else ``on-demand``). ``max_cost`` / ``max_hours`` warn at
    75% and 90% and, at 100%, run ``checkpoint`` and make ``r.step()`` raise
    :class:`~mlcost.errors.BudgetExceeded`, which ends the ``with`` block cleanly. Records go
    to the spool (``spool=``, ``$MLCOST_SPOOL``, XDG data dir) or to ``server=``
    (``$MLCOST_SERVER``).

        >>> import tempfile
        >>> with track("doc-example", hourly_price=3.0, spool=tempfile.mkdtemp(),
        ...            detect=False, gpu=False) as r:
        ...     r.step(loss=0.5)
        >>> r.status, r.metrics
        ('finished', {'loss': 0.5})
    """
    return Run(run, tags=tags, instance=instance, **options)
