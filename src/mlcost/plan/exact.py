"""Exact mode: trace one real training step of your own ``nn.Module`` without a GPU.

The model is built and run under PyTorch's ``FakeTensorMode`` on the CPU device, so no memory
is allocated, and ``torch.distributed._tools.mem_tracker.MemTracker`` records the peak by
category (parameters, gradients, optimizer states, activations, temporaries). Fake CUDA tensors
need a CUDA build, so the CPU device stands in for the GPU (PyTorch 2.13, 2026). We then add
what the CPU trace cannot see: the CUDA context and the caching allocator's slack.

Torch is imported inside the function only; ``import mlcost.plan.exact`` stays cheap.

    >>> from mlcost.plan.exact import trace_training_step      # doctest: +SKIP
    >>> est = trace_training_step(lambda: MyModel(), lambda: (torch.randn(8, 512),))  # +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlcost.errors import InvalidInput
from mlcost.plan.memory import ALLOCATOR_SLACK, CUDA_CONTEXT_BYTES, MemoryEstimate

__all__ = ["trace_training_step"]

_CATEGORIES = {
    "Parameter": "weights",
    "Buffer": "buffers",
    "Gradient": "gradients",
    "Optstate": "optimizer_states",
    "Activation": "activations",
    "Temp": "temporary_buffers",
    "Other": "other",
}


def trace_training_step(
    build_model: Callable[[], Any],
    make_inputs: Callable[[], tuple[Any, ...]],
    *,
    optimizer: str = "adamw",
    loss: Callable[[Any], Any] | None = None,
    cuda_context_bytes: int = CUDA_CONTEXT_BYTES,
) -> MemoryEstimate:
    """Peak memory of one steady-state training step (forward, backward, optimizer step).

    ``build_model`` and ``make_inputs`` are called inside fake-tensor mode, so they must create
    the module and its inputs (no real weights are read). Two steps run; the second is measured,
    so optimizer states exist, as in a real run.
    """
    try:
        import torch
        from torch._subclasses.fake_tensor import FakeTensorMode
        from torch.distributed._tools.mem_tracker import MemTracker
    except ImportError as exc:  # pragma: no cover - torch is in the test extra
        raise InvalidInput(
            "exact mode needs PyTorch", fix="pip install torch (the CPU build is enough)"
        ) from exc
    factories: dict[str, Callable[[list[Any]], Any]] = {
        "adamw": lambda p: torch.optim.AdamW(p, foreach=True),
        "sgd": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
    }
    if optimizer not in factories:
        raise InvalidInput(
            f"exact mode supports optimizers {sorted(factories)}, not {optimizer!r}",
            fix="use the analytic estimate (estimate_memory) for other optimizers",
        )
    reduce = loss or (lambda out: out.float().sum())
    with FakeTensorMode():
        model = build_model()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = factories[optimizer](params)
        inputs = make_inputs()
        tracker = MemTracker()
        tracker.track_external(model, opt)
        with tracker:
            for step in range(2):
                reduce(model(*inputs)).backward()
                opt.step()
                opt.zero_grad()
                if step == 0:
                    tracker.reset_mod_stats()
        snapshot = tracker.get_tracker_snapshot("peak")
        n_params = sum(int(p.numel()) for p in model.parameters())
    (by_kind,) = snapshot.values()
    breakdown: dict[str, int] = {}
    for kind, value in by_kind.items():
        name = _CATEGORIES.get(getattr(kind, "value", str(kind)))
        if name and value:
            breakdown[name] = int(value)
    dynamic = sum(v for k, v in breakdown.items() if k != "weights")
    breakdown["allocator_reserve"] = int(ALLOCATOR_SLACK * dynamic)
    breakdown["cuda_context"] = cuda_context_bytes
    traced_peak = int(by_kind["Total"])
    return MemoryEstimate(
        model=type(model).__name__,
        params=n_params,
        mode="train",
        precision="traced",
        per_gpu_bytes=traced_peak + breakdown["allocator_reserve"] + cuda_context_bytes,
        breakdown=breakdown,
        inputs={"optimizer": optimizer, "traced_peak_bytes": traced_peak},
        notes=("traced with fake tensors on the CPU device (MemTracker)",),
    )
