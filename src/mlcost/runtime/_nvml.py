"""GPU readings through NVML (``nvidia-ml-py``, imported here only, when a tracker starts).

Without the package, without the NVIDIA driver (``libnvidia-ml.so.1``), or with no device
visible, :func:`open_nvml` returns None and a sentence that says which; nothing raises.
Only the GPUs the process can see are read: ``CUDA_VISIBLE_DEVICES`` (indices or UUIDs) is
honoured, as CUDA itself would.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["GpuReading", "Nvml", "open_nvml"]


@dataclass(frozen=True)
class GpuReading:
    """One GPU at one moment. ``utilization`` is 0-1; None where the device will not say."""

    index: int
    uuid: str
    model: str
    utilization: float | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    power_watts: float | None


def _visible(count: int, uuids: list[str], env: Mapping[str, str]) -> list[int]:
    spec = env.get("CUDA_VISIBLE_DEVICES")
    if spec is None:
        return list(range(count))
    chosen: list[int] = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            break
        if item.lstrip("-").isdigit():
            i = int(item)
            if not 0 <= i < count:
                break  # CUDA stops at the first invalid entry
            chosen.append(i)
        else:
            matches = [i for i, u in enumerate(uuids) if u.startswith(item)]
            if not matches:
                break
            chosen.append(matches[0])
    return chosen


class Nvml:
    """An initialised NVML session over the visible GPUs. Call :meth:`close` when done."""

    def __init__(self, module: Any, indices: list[int]) -> None:
        self._nv = module
        self._handles = [(i, module.nvmlDeviceGetHandleByIndex(i)) for i in indices]
        self._names = {i: str(module.nvmlDeviceGetName(h)) for i, h in self._handles}
        self._uuids = {i: str(module.nvmlDeviceGetUUID(h)) for i, h in self._handles}

    @property
    def count(self) -> int:
        return len(self._handles)

    @property
    def models(self) -> list[str]:
        return [self._names[i] for i, _ in self._handles]

    def _try(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self._nv.NVMLError:  # e.g. NotSupported for power on some boards
            return None

    def read(self) -> list[GpuReading]:
        nv = self._nv
        out = []
        for i, h in self._handles:
            util = self._try(nv.nvmlDeviceGetUtilizationRates, h)
            mem = self._try(nv.nvmlDeviceGetMemoryInfo, h)
            power_mw = self._try(nv.nvmlDeviceGetPowerUsage, h)
            out.append(
                GpuReading(
                    index=i,
                    uuid=self._uuids[i],
                    model=self._names[i],
                    utilization=None if util is None else util.gpu / 100,
                    memory_used_bytes=None if mem is None else int(mem.used),
                    memory_total_bytes=None if mem is None else int(mem.total),
                    power_watts=None if power_mw is None else power_mw / 1000,
                )
            )
        return out

    def close(self) -> None:
        with contextlib.suppress(self._nv.NVMLError):
            self._nv.nvmlShutdown()


def open_nvml(env: Mapping[str, str] | None = None) -> tuple[Nvml | None, str]:
    """``(session, "")`` when GPUs are visible, else ``(None, why there is no GPU)``."""
    env = os.environ if env is None else env
    try:
        import pynvml  # the module that the nvidia-ml-py package installs
    except ImportError:
        return None, "no GPU: nvidia-ml-py is not installed (pip install 'mlcost[gpu]')"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return None, f"no GPU: NVML cannot start ({exc}); is the NVIDIA driver installed?"
    try:
        count = pynvml.nvmlDeviceGetCount()
        uuids = [
            str(pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(i)))
            for i in range(count)
        ]
        indices = _visible(count, uuids, env)
        if not indices:
            pynvml.nvmlShutdown()
            return None, "no GPU: NVML sees no device visible to this process"
        return Nvml(pynvml, indices), ""
    except pynvml.NVMLError as exc:
        pynvml.nvmlShutdown()
        return None, f"no GPU: NVML failed to list devices ({exc})"
