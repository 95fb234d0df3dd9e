"""NVML through nvidia-ml-py, as it behaves on this machine (no NVIDIA driver, no GPU)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlcost.runtime import open_nvml, track
from mlcost.runtime._nvml import _visible


def test_without_a_driver_it_says_no_gpu_cleanly() -> None:
    pynvml = pytest.importorskip("pynvml")
    try:  # only meaningful where NVML really cannot start
        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        pytest.skip("this machine has an NVIDIA driver")
    except pynvml.NVMLError:
        pass
    session, why = open_nvml({})
    assert session is None
    assert why.startswith("no GPU: NVML cannot start")
    assert "driver" in why


def test_without_the_package_it_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # what an absent package looks like
    session, why = open_nvml({})
    assert session is None
    assert "pip install 'mlcost[gpu]'" in why


def test_a_run_without_gpu_records_wall_time(tmp_path: Path) -> None:
    with track("cpu-only", spool=tmp_path, detect=False, hourly_price=1.0) as run:
        run.step()
    assert run.status == "finished"
    assert run.gpu_reason.startswith("no GPU")
    assert run.gpu_count == 0 and run.used_gpu_hours is None and run.peak_memory_bytes is None
    assert run.elapsed_seconds > 0
    assert "no GPU" in run.summary()


UUIDS = ["GPU-aaaa", "GPU-bbbb", "GPU-cccc"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, [0, 1, 2]),  # unset: every device
        ("", []),  # set but empty: none visible
        ("2,0", [2, 0]),
        ("GPU-bb", [1]),  # UUID prefixes, as CUDA accepts them
        ("1,7,0", [1]),  # CUDA stops at the first invalid entry
    ],
)
def test_cuda_visible_devices(spec: str | None, expected: list[int]) -> None:
    env = {} if spec is None else {"CUDA_VISIBLE_DEVICES": spec}
    assert _visible(3, UUIDS, env) == expected
