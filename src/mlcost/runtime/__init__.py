"""Runtime SDK: what a run cost, a budget guard, and surviving spot interruptions.

Runs inside the user's training or serving process and hands its records to ``sources/``
through the spool directory (or a server). See ``docs/runtime.md``.

    >>> import tempfile
    >>> from mlcost.runtime import track
    >>> with track("example", hourly_price=2.0, spool=tempfile.mkdtemp(), detect=False) as run:
    ...     run.step(loss=1.0)
    >>> run.status
    'finished'
"""

from __future__ import annotations

from mlcost.runtime._budget import StopRule
from mlcost.runtime._checkpoint import MARKER, checkpoint, latest_checkpoint
from mlcost.runtime._interrupt import (
    Interrupted,
    Interruption,
    InterruptionWatcher,
    on_interruption,
)
from mlcost.runtime._metadata import Instance, detect_instance
from mlcost.runtime._nvml import GpuReading, open_nvml
from mlcost.runtime._records import HttpSink, SpoolSink, spool_dir, write_spool_file
from mlcost.runtime._tracker import PURCHASE_OPTIONS, Run, current_run, track
from mlcost.runtime.integrations import hf_callback, lightning_callback

__all__ = [
    "MARKER",
    "PURCHASE_OPTIONS",
    "GpuReading",
    "HttpSink",
    "Instance",
    "Interrupted",
    "Interruption",
    "InterruptionWatcher",
    "Run",
    "SpoolSink",
    "StopRule",
    "checkpoint",
    "current_run",
    "detect_instance",
    "hf_callback",
    "latest_checkpoint",
    "lightning_callback",
    "on_interruption",
    "open_nvml",
    "spool_dir",
    "track",
    "write_spool_file",
]
