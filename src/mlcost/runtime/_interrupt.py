"""Save once before the cloud takes the machine back: spot notices and SIGTERM.

A background thread polls each cloud's notice (AWS ``spot/instance-action`` through IMDSv2,
GCP ``instance/preempted``, Azure Scheduled Events ``Preempt``) every ``poll_seconds``; AWS
asks for every 5 seconds since its warning comes 2 minutes ahead (EC2 user guide, 2026).
SIGTERM (what Kubernetes, Slurm and ``mlcost run``'s budget guard send) is caught too.

The save runs **once**, in the main thread when ``on_interruption`` was called from it: a
notice found by the thread is handed over with ``_thread.interrupt_main``, so the save never
races the training step that is changing the weights. Then, with ``exit=True`` (the default),
:class:`Interrupted` (a ``SystemExit``) ends the program cleanly: ``finally`` blocks and the
tracker's record still run.
"""

from __future__ import annotations

import _thread
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from mlcost.runtime._metadata import CLOUDS, Notice, base_urls, poll_notice

__all__ = ["Interrupted", "Interruption", "InterruptionWatcher", "on_interruption"]

log = logging.getLogger("mlcost.runtime")


@dataclass(frozen=True)
class Interruption:
    """Why the save ran: ``source`` is ``aws``, ``gcp``, ``azure`` or a signal name;
    ``seconds_left`` until the machine goes, where the cloud says (None otherwise)."""

    source: str
    action: str
    seconds_left: float | None
    detected: datetime

    @property
    def reason(self) -> str:
        left = "" if self.seconds_left is None else f", {self.seconds_left:.0f} s left"
        return f"interrupted: {self.source} {self.action}{left}"


class Interrupted(SystemExit):
    """Raised in the main thread after the save; exits with status ``128 + SIGTERM``."""

    def __init__(self, interruption: Interruption) -> None:
        self.interruption = interruption
        super().__init__(128 + signal.SIGTERM)


def _from_notice(notice: Notice) -> Interruption:
    now = datetime.now(UTC)
    left = None if notice.deadline is None else max(0.0, (notice.deadline - now).total_seconds())
    return Interruption(notice.cloud, notice.action, left, now)


class InterruptionWatcher:
    """Watches for interruptions and runs ``save_fn`` once. Use :func:`on_interruption`."""

    def __init__(
        self,
        save_fn: Callable[[Interruption], Any],
        *,
        clouds: tuple[str, ...] = CLOUDS,
        urls: Mapping[str, str] | None = None,
        poll_seconds: float = 5.0,
        signals: tuple[signal.Signals, ...] = (signal.SIGTERM,),
        exit: bool = True,
        timeout: float = 0.5,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.save_fn = save_fn
        self.clouds = tuple(c for c in clouds if c in CLOUDS)
        self.bases = base_urls(urls, env)
        self.poll_seconds = poll_seconds
        self.signals = signals
        self.exit = exit
        self.timeout = timeout
        self.interruption: Interruption | None = None
        self.saved = False
        self.save_seconds: float | None = None
        self._pending: Interruption | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous: dict[signal.Signals, Any] = {}
        self._in_main = False

    def start(self) -> InterruptionWatcher:
        self._in_main = threading.current_thread() is threading.main_thread()
        if self._in_main:
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._on_signal)
        if self.clouds and self.poll_seconds > 0:
            self._thread = threading.Thread(
                target=self._poll, name="mlcost-interruption", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching and give the signals back their previous handlers."""
        self._stop.set()
        if self._in_main and threading.current_thread() is threading.main_thread():
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)
            self._previous.clear()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.timeout * 4 + 1)

    def __enter__(self) -> InterruptionWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                notice = poll_notice(self.clouds, self.bases, self.timeout)
            except Exception as exc:  # never let the watcher kill the program
                log.debug("mlcost: notice poll failed: %s", exc)
                notice = None
            if notice is not None:
                found = _from_notice(notice)
                log.warning("mlcost: %s; saving", found.reason)
                if self._in_main and signal.SIGTERM in self._previous:
                    self._pending = found
                    _thread.interrupt_main(signal.SIGTERM)
                else:
                    self._save(found)
                return
            self._stop.wait(self.poll_seconds)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        found, self._pending = self._pending, None
        if found is None:
            found = Interruption(signal.Signals(signum).name, "signal", None, datetime.now(UTC))
        if self._save(found) and self.exit:
            raise Interrupted(found)

    def _save(self, found: Interruption) -> bool:
        """Run the save if nobody has; True for the call that ran it."""
        with self._lock:
            if self.interruption is not None:
                return False
            self.interruption = found
        from mlcost.runtime._tracker import current_run

        run = current_run()
        if run is not None:
            run.interruption = found
        started = time.monotonic()
        try:
            self.save_fn(found)
            self.saved = True
        except Exception:
            log.exception("mlcost: the save function failed on %s", found.reason)
        finally:
            self.save_seconds = time.monotonic() - started
            if run is not None:
                run.add_checkpoint_time(self.save_seconds)
        return True


def on_interruption(
    save_fn: Callable[[Interruption], Any],
    *,
    clouds: tuple[str, ...] | None = None,
    urls: Mapping[str, str] | None = None,
    poll_seconds: float = 5.0,
    exit: bool = True,
    env: Mapping[str, str] | None = None,
) -> InterruptionWatcher:
    """Call ``save_fn(interruption)`` once when the machine is about to be taken away.

    Watches AWS, GCP and Azure notices (``clouds`` narrows it; ``urls`` or
    ``MLCOST_*_METADATA_URL`` move the endpoints) and SIGTERM. ``interruption.seconds_left`` is
    the time the cloud gives, where it says. With ``exit=True`` the program then ends with
    :class:`Interrupted`; ``exit=False`` returns to the loop (check ``watcher.interruption``).
    Set ``MLCOST_NO_METADATA=1`` to watch SIGTERM only.

        >>> watcher = on_interruption(lambda i: print("saving:", i.reason), clouds=())
        >>> watcher.stop()
    """
    env = os.environ if env is None else env
    if clouds is None:
        clouds = () if env.get("MLCOST_NO_METADATA") else CLOUDS
    return InterruptionWatcher(
        save_fn, clouds=clouds, urls=urls, poll_seconds=poll_seconds, exit=exit, env=env
    ).start()
