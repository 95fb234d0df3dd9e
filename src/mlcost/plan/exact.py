"""Exact mode: trace one real training step of your own ``nn.Module`` without a GPU.

The model is built and run under PyTorch's ``FakeTensorMode`` on the CPU device, so no memory
is allocated, and ``torch.distributed._tools.mem_tracker.MemTracker`` records the peak by
category (parameters, gradients, optimizer states, activations, temporaries). Fake CUDA tensors
need a CUDA build, so the CPU device stands in for the GPU (PyTorch 2.13, 2026). We then add
what the CPU trace cannot see: the CUDA context and the caching allocator's slack.

Torch is imported inside the function only; ``import mlcost.plan.exact`` stays cheap.

    >>> from mlcost.plan.exact import trace_training_step      # doctest: +SKIP
    >>> est = trace_training_step(MyModel, lambda: (torch.randn(8, 512),))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlcost.errors import InvalidInput
from mlcost.plan.memory import CUDA_CONTEXT_BYTES, MemoryEstimate

if TYPE_CHECKING:
    from mlcost.plan.requests import MemoryRequest

__all__ = ["trace_request", "trace_training_step"]

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
    autocast: Callable[[], Any] = contextlib.nullcontext,
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
    with FakeTensorMode(), autocast():
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
    # The trace sees tensors, not the caching allocator's blocks: a large tensor's block is
    # rounded up to 2 MiB, on average 1 MiB each (see memory._round_blocks).
    large = sum(1 for p in params if p.numel() * p.element_size() > 10 * 2**20)
    breakdown["allocator_reserve"] = large * 4 * 2**20
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


def trace_request(req: MemoryRequest) -> MemoryEstimate:
    """Exact mode for a Hugging Face model: build it from ``req.config`` (a ``config.json``)
    with ``AutoModelForCausalLM.from_config`` on fake tensors and trace two training steps of
    ``model(input_ids, labels=input_ids)`` at the request's batch, sequence, precision,
    optimizer and checkpointing. The CPU device stands in for the GPU: PyTorch's CPU attention
    kernels and the CPU autocast's op lists stand in for CUDA's."""
    if req.config is None:
        raise InvalidInput(
            "--exact builds the model from its config.json", fix="give --config PATH"
        )
    if req.mode != "train" or req.precision not in ("fp32", "bf16", "amp-bf16"):
        raise InvalidInput(
            f"--exact traces full training in fp32, bf16 or amp-bf16, not {req.mode} in "
            f"{req.precision}",
            fix="leave out --exact for the analytic estimate",
        )
    try:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM
    except ImportError as exc:  # pragma: no cover - torch is in the test extra
        raise InvalidInput(
            "--exact needs PyTorch and transformers", fix="pip install torch transformers"
        ) from exc
    try:
        raw = json.loads(req.config.read_text(encoding="utf-8"))
        cfg = AutoConfig.for_model(**{k: v for k, v in raw.items() if k != "architectures"})
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidInput(
            f"cannot build a model from {req.config}: {exc}",
            file=req.config,
            fix="give a transformers config.json with its model_type",
        ) from exc
    dtype = torch.bfloat16 if req.precision == "bf16" else torch.float32

    class WithLoss(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lm = AutoModelForCausalLM.from_config(cfg, dtype=dtype)  # type: ignore[no-untyped-call]
            if req.grad_checkpointing:  # transformers 5.25 renamed it; the H200 set used 5.17
                enable = getattr(self.lm, "activation_checkpointing_enable", None)
                (enable or self.lm.gradient_checkpointing_enable)({"use_reentrant": False})

        def forward(self, ids: Any) -> Any:
            return self.lm(input_ids=ids, labels=ids).loss

    def autocast() -> Any:
        if req.precision == "amp-bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    est = trace_training_step(
        WithLoss,
        lambda: (torch.randint(0, cfg.vocab_size, (req.batch, req.seq)),),
        optimizer=req.optimizer,
        loss=lambda out: out,
        autocast=autocast,
    )
    return MemoryEstimate(
        model=str(raw.get("_name_or_path") or raw.get("model_type") or req.config.stem),
        params=est.params,
        mode=req.mode,
        precision=req.precision,
        per_gpu_bytes=est.per_gpu_bytes,
        breakdown=est.breakdown,
        inputs={**est.inputs, "batch": req.batch, "seq": req.seq},
        notes=est.notes,
    )
