"""One request object per planner: its options, defaults, bounds and help, defined once.

The CLI (``mlcost plan …``), the REST API (``/api/v1/plan/…``) and the dashboard's planner
form build these objects and call their ``run()``; each front end derives its own options from
the fields (``dataclasses.fields`` and each field's ``metadata``: ``help``, ``choices``,
``flag`` (the option's name where it differs from the field's), ``api=False`` for options the
server does not take, and the bounds ``ge`` / ``gt`` / ``le``).

    >>> MemoryRequest(model="gpt2", mode="infer", precision="bf16").run().model
    'gpt2'
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from mlcost.catalog import PURCHASES
from mlcost.errors import InvalidInput
from mlcost.plan.gpu import DEFAULT_MFU, GpuPlan, cheapest_fit
from mlcost.plan.memory import (
    ENGINES,
    LORA_TARGETS,
    MODES,
    OPTIMIZERS,
    PRECISIONS,
    SHARDINGS,
    MemoryEstimate,
    estimate_memory,
)
from mlcost.plan.spot import SpotPlan, plan_spot_for
from mlcost.plan.tco import TcoPlan, plan_tco

__all__ = [
    "GpuRequest",
    "MemoryRequest",
    "SpotRequest",
    "TcoRequest",
    "option",
    "optional_base",
    "request_fields",
    "train_flops",
]


def option(
    default: Any = MISSING,
    help: str = "",
    *,
    choices: tuple[str, ...] = (),
    flag: str | None = None,
    api: bool = True,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
) -> Any:
    """A request field with what the front ends need to offer it."""
    meta = {"help": help, "choices": choices, "flag": flag, "api": api, "ge": ge, "gt": gt}
    meta["le"] = le
    if default is MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


def request_fields(cls: type) -> list[Any]:
    """The fields of a request class, in order (``dataclasses.fields``)."""
    return list(fields(cls))


def optional_base(hint: Any) -> Any:
    """The class under a field's type: ``int`` for ``int | None``, ``tuple`` for
    ``tuple[str, ...]``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return typing.get_origin(hint) or hint


def train_flops(params: float | None, tokens: float | None) -> float | None:
    """Training FLOPs of a dense transformer: 6 x parameters x tokens (Kaplan et al. 2020)."""
    return 6 * params * tokens if params and tokens else None


@dataclass(frozen=True)
class MemoryRequest:
    """What ``mlcost plan memory`` asks: a model and how it runs."""

    model: str | None = option(
        None, "Preset name, e.g. llama-3-8b (mlcost plan memory --list-models)."
    )
    config: Path | None = option(None, "A Hugging Face config.json.", api=False)  # noqa: RUF009
    params: float | None = option(None, "Parameter count, e.g. 7e9.", gt=0, le=1e13)
    mode: str = option("train", "What the job does.", choices=MODES)
    precision: str = option("amp-bf16", "Weights and compute.", choices=PRECISIONS)
    optimizer: str = option("adamw", "Training optimizer.", choices=OPTIMIZERS)
    batch: int = option(1, "Sequences per step (per GPU).", ge=1, le=65_536)
    seq: int = option(2048, "Tokens per sequence (the prompt, for infer).", ge=1, le=1_048_576)
    grad_checkpointing: bool = option(False, "Activation checkpointing.")
    gpus: int | None = option(None, "GPUs in the job (default: --tp).", ge=1, le=100_000)
    sharding: str = option("ddp", "How model states spread over GPUs.", choices=SHARDINGS)
    tp: int = option(1, "Tensor-parallel degree (alone, it is the GPU count).", ge=1, le=1024)
    kv_tokens: int | None = option(
        None,
        "Context held per sequence (prompt + generated tokens) with --engine hf; default --seq. "
        "For a serving engine's shared token pool use --engine vllm.",
        ge=1,
        le=10_000_000,
    )
    lora_rank: int = option(16, "LoRA rank (lora, qlora).", ge=1, le=4096)
    lora_targets: str = option(
        "attn",
        "Layers with adapters: attention projections or all linear layers.",
        choices=LORA_TARGETS,
    )
    engine: str = option(
        "hf", "Inference engine: transformers generate() or vLLM.", choices=ENGINES
    )
    gpu_memory_gib: float | None = option(
        None, "Card memory, for --engine vllm's KV pool (e.g. 80).", gt=0, le=4096
    )
    gpu_memory_utilization: float = option(
        0.9, "vLLM's share of the card (its --gpu-memory-utilization).", gt=0, le=1
    )
    max_num_batched_tokens: int = option(
        8192, "vLLM's --max-num-batched-tokens (its profile run).", ge=1, le=10_000_000
    )
    loss_chunks: int = option(
        1,
        "Training: compute the loss on N chunks of tokens, each upcast to fp32 alone "
        "(torchtune's CEWithChunkedOutputLoss, N=8); 1 is Hugging Face's loss.",
        flag="chunked-loss",
        ge=1,
        le=4096,
    )
    optimizer_in_backward: bool = option(
        False,
        "Training: step each parameter as its gradient is ready, freeing it "
        "(torchtune's optimizer_in_bwd).",
    )
    paged_optimizer: bool = option(
        False, "Training: bitsandbytes' paged AdamW; its states live in CUDA managed memory."
    )
    compiled_loss: bool = option(
        False, "Training: torch.compile on the loss (torchtune compile=True): fused cross-entropy."
    )

    def run(self) -> MemoryEstimate:
        if self.model is None and self.config is None and self.params is None:
            raise InvalidInput(
                "no model given", fix="give a model (e.g. llama-3-8b), a config.json or params"
            )
        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        model, config, params = kw.pop("model"), kw.pop("config"), kw.pop("params")
        return estimate_memory(
            model, config=config, params=None if params is None else int(params), **kw
        )


@dataclass(frozen=True)
class GpuRequest:
    """What ``mlcost plan gpu`` asks: a job (or a memory need) and what to buy."""

    job: MemoryRequest = field(default_factory=MemoryRequest)
    memory_gib: float | None = option(None, "Memory need per GPU instead of a model.", gt=0, le=1e6)
    purchases: tuple[str, ...] = option(
        ("ondemand", "spot", "reserved_1y"),
        "Purchase options.",
        choices=PURCHASES,
        flag="purchase",
    )
    cloud: str | None = option(None, "Only this cloud.")
    headroom: float = option(0.05, "Share of GPU memory kept free.", ge=0, le=0.99)
    tokens: float | None = option(None, "Training tokens, for cost-to-train.", gt=0, le=1e16)
    flops: float | None = option(None, "Training FLOPs (instead of --tokens).", gt=0, le=1e30)
    mfu: float = option(DEFAULT_MFU, "Model-FLOPs utilization.", ge=0.01, le=1)
    limit: int = option(5, "Offers per purchase option.", ge=1, le=100)

    def run(self) -> GpuPlan:
        job = self.job
        gpus = job.gpus or job.tp
        cpu_need: int | None = None
        if self.memory_gib is not None:
            need, params = int(self.memory_gib * 2**30), job.params
        else:
            est = job.run()
            need, params = est.per_gpu_bytes, est.params
            b = est.breakdown
            cpu_need = need - b.get("cuda_context", 0) - b.get("allocator_reserve", 0)
        if not math.isfinite(need):
            raise InvalidInput("the memory need must be finite")
        return cheapest_fit(
            need,
            gpus=gpus,
            purchases=self.purchases,
            headroom=self.headroom,
            cloud=self.cloud,
            limit=self.limit,
            train_flops=self.flops or train_flops(params, self.tokens),
            mfu=self.mfu,
            precision=job.precision,
            cpu_need_bytes=cpu_need,
        )


@dataclass(frozen=True)
class SpotRequest:
    """What ``mlcost plan spot`` asks: a job's hours and where it runs."""

    hours: float = option(help="Hours of work on on-demand.", ge=0.001, le=1e6)
    instance: str | None = option(None, "Catalog instance type (prices, AWS bucket).")
    region: str | None = option(None, "Region of the instance's prices.")
    ondemand_price: float | None = option(None, "USD per hour on demand.", ge=1e-6, le=1e6)
    spot_price: float | None = option(None, "USD per hour on spot.", ge=1e-6, le=1e6)
    interruption: str | None = option(None, "AWS bucket, e.g. '5-10%'.")
    rate: float | None = option(None, "Interruptions per hour (overrides).", ge=0, le=100)
    checkpoint_minutes: float = option(5.0, "Minutes to write a checkpoint.", ge=0, le=1440)
    restart_minutes: float = option(10.0, "Minutes to restart after one.", ge=0, le=1440)
    capacity_wait_minutes: float = option(0.0, "Minutes waiting for spot capacity.", ge=0, le=1e5)
    pools: int = option(1, "Instance types / zones diversified over.", ge=1, le=1000)
    deadline_hours: float | None = option(None, "Hours the job must finish in.", gt=0, le=1e6)

    def run(self) -> SpotPlan:
        kw = asdict(self)
        return plan_spot_for(kw.pop("hours"), **kw)


@dataclass(frozen=True)
class TcoRequest:
    """What ``mlcost plan tco`` asks: usage and the prices of each way to run it."""

    gpu_hours_per_year: float = option(
        help="GPU-hours used per year.", flag="gpu-hours", gt=0, le=1e12
    )
    managed_usd_per_hour: float = option(
        help="Managed USD per GPU-hour.", flag="managed-price", gt=0, le=1e6
    )
    ondemand_usd_per_hour: float = option(
        help="On-demand USD per GPU-hour.", flag="ondemand-price", le=1e6
    )
    reserved_usd_per_hour: float | None = option(
        None, "Reserved USD per GPU-hour.", flag="reserved-price", ge=0, le=1e6
    )
    spot_usd_per_hour: float | None = option(
        None, "Spot USD per GPU-hour.", flag="spot-price", ge=0, le=1e6
    )
    capacity_gpus: int = option(1, "Capacity (GPUs) to own.", flag="gpus", ge=1, le=10_000_000)
    horizon_months: int = option(12, "Months compared.", flag="months", ge=1, le=1200)
    engineer_usd_per_year: float = option(
        200_000.0, "USD per engineer-year.", flag="engineer-cost", ge=0, le=1e9
    )
    self_hosted_fte: float = option(0.25, "Engineers self-hosting takes.", ge=0, le=1e6)
    managed_fte: float = option(0.05, "Engineers a managed service takes.", ge=0, le=1e6)
    overhead_pct: float = option(
        10.0, "Self-hosted storage, network, monitoring, % of compute.", ge=0, le=1000
    )
    spot_overhead_pct: float = option(
        10.0, "Hours lost to spot interruptions, % (see plan spot).", ge=0, le=1000
    )
    managed_overhead_pct: float = option(
        0.0, "Managed overheads beyond its price, % of its compute.", ge=0, le=1000
    )
    managed_egress_usd_per_month: float = option(
        0.0, "Managed service's data egress, USD a month.", flag="managed-egress", ge=0, le=1e12
    )
    managed_storage_usd_per_month: float = option(
        0.0,
        "Managed service's storage (models, logs), USD a month.",
        flag="managed-storage",
        ge=0,
        le=1e12,
    )
    managed_usd_per_request: float = option(
        0.0, "Managed service's fee per request, USD.", flag="managed-request-fee", ge=0, le=1e6
    )
    requests_per_month: float = option(
        0.0, "Requests a month at these GPU-hours (for the request fee).", ge=0, le=1e15
    )

    def run(self) -> TcoPlan:
        return plan_tco(**asdict(self))
