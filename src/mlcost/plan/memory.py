"""Peak GPU memory per device for training, fine-tuning and inference, as a breakdown.

The estimate adds what real runs allocate, not only the textbook 16 bytes per parameter:

- ``weights``, ``gradients``, ``optimizer_states`` (AdamW: two fp32 moments; 8-bit Adam: two
  bytes; SGD with momentum: one copy; Adafactor: factored row/column statistics);
- ``autocast_weight_copy``: under torch autocast, the 16-bit copies of the linear weights cached
  for the forward pass;
- ``activations`` from the architecture, micro-batch and sequence length (Korthikanti et al.
  2022, "Reducing Activation Recomputation in Large Transformer Models", eq. 1 and 2), or only
  the layer inputs plus one layer with activation checkpointing;
- ``logits_and_loss``: batch x sequence x vocabulary logits, their fp32 upcast for the loss, and
  their gradient, which dominate small models with large vocabularies;
- ``optimizer_step_temp``: PyTorch's default multi-tensor ("foreach") AdamW allocates a full-size
  temporary of the moments during ``step()``; it peaks after activations are freed, so only the
  larger of the two counts;
- ``kv_cache`` (inference) for batch x tokens, with grouped/multi-query attention;
- ``allocator_reserve``: the caching allocator's slack over live tensors;
- ``cuda_context``: CUDA context and kernels, 1343 MiB measured on a V100 in the Hugging Face
  "Model training anatomy" guide (2022); newer drivers with lazy loading need less.
- ``engine_reserve``: a serving engine's own reserve (e.g. vLLM's CUDA graphs), given by the user.

Validated against published measurements in ``tests/plan/test_memory.py``; the error achieved is
stated in ``docs/planning.md``.

    >>> est = estimate_memory("llama-3-8b", mode="infer", precision="bf16", kv_tokens=8192)
    >>> round(est.per_gpu_bytes / 2**30)
    17
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlcost.catalog._names import nearest
from mlcost.errors import InvalidInput, UnknownName
from mlcost.plan._models import PRESETS, ModelSpec, model_from_config, preset

__all__ = [
    "MODES",
    "OPTIMIZERS",
    "PRECISIONS",
    "SHARDINGS",
    "MemoryEstimate",
    "estimate_memory",
    "model_spec",
]

Mode = Literal["train", "lora", "qlora", "infer"]
MODES: tuple[str, ...] = ("train", "lora", "qlora", "infer")
PRECISIONS: tuple[str, ...] = ("fp32", "amp-fp16", "amp-bf16", "bf16", "fp8", "int8", "int4")
OPTIMIZERS: tuple[str, ...] = ("adamw", "adamw-8bit", "sgd", "adafactor")
SHARDINGS: tuple[str, ...] = ("ddp", "zero1", "zero2", "zero3", "fsdp")

GIB = 2**30
CUDA_CONTEXT_BYTES = 1343 * 2**20  # HF "Model training anatomy", V100, 2022
ALLOCATOR_SLACK = 0.08  # caching allocator reserve over live dynamic tensors (calibrated, see docs)

# Bytes per stored weight and per gradient / optimizer-state element, by precision.
_WEIGHT_BYTES = {
    "fp32": 4.0,
    "amp-fp16": 4.0,
    "amp-bf16": 4.0,
    "bf16": 2.0,
    "fp8": 2.0,
    "int8": 1.0,
    "int4": 0.5 + 4 / 64,
}  # bitsandbytes: fp32 absmax per 64 values
_ACT_BYTES = {"fp32": 4, "amp-fp16": 2, "amp-bf16": 2, "bf16": 2, "fp8": 2, "int8": 2, "int4": 2}


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak memory per GPU and what it is made of (bytes). ``to_dict()`` is JSON-ready."""

    model: str
    params: int
    mode: str
    precision: str
    per_gpu_bytes: int
    breakdown: Mapping[str, int]
    inputs: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def per_gpu_gib(self) -> float:
        return self.per_gpu_bytes / GIB

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "params": self.params,
            "mode": self.mode,
            "precision": self.precision,
            "per_gpu_bytes": self.per_gpu_bytes,
            "per_gpu_gib": round(self.per_gpu_gib, 3),
            "breakdown": dict(self.breakdown),
            "inputs": dict(self.inputs),
            "notes": list(self.notes),
        }


def model_spec(
    model: str | ModelSpec | None = None,
    *,
    config: Path | None = None,
    params: int | None = None,
) -> ModelSpec:
    """A model from a preset name, a ``config.json`` path, or a bare parameter count.

    With only ``params``, the architecture is guessed from the size (a Llama-like decoder), which
    is good for weights and optimizer states but rough for activations.
    """
    if isinstance(model, ModelSpec):
        return model
    if model is not None:
        return preset(model)
    if config is not None:
        return model_from_config(config)
    if params is not None:
        if params <= 0:
            raise InvalidInput(f"--params must be positive, got {params}")
        # Llama-family proportions: hidden^2 * 12 * layers ~ params, layers ~ hidden / 128.
        hidden = max(256, round((params / 12 * 128) ** (1 / 3) / 128) * 128)
        layers = max(1, round(params / (12 * hidden * hidden)))
        return ModelSpec(
            f"{params / 1e9:.2f}B params",
            params,
            layers,
            hidden,
            hidden // 128,
            hidden // 128,
            32000,
            int(hidden * 8 / 3),
        )
    raise InvalidInput("no model given", fix="give --model NAME, --config PATH or --params N")


def _check(kind: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise UnknownName(kind, value, nearest(value, valid) or list(valid))


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise InvalidInput(f"{name} must be positive, got {value}", fix=f"give a {name} >= 1")


def _layer_activations(
    m: ModelSpec, b: int, s: int, act: int, eager: bool, frozen: bool = False, amp: bool = False
) -> float:
    """Bytes kept for backward by one transformer layer (Korthikanti et al. 2022, generalized to
    any MLP width: 11sbh attention + 4sbh norms + MLP + 5as^2b for eager attention scores).

    With a ``frozen`` base (LoRA), frozen linear layers keep no input for a weight gradient, so
    the MLP keeps only its activation function's input and the dropout mask. Under ``amp``
    autocast, softmax and layer norm run in fp32: the attention probabilities, their dropout
    output and the norm outputs are kept in 4 bytes (11 instead of 5 bytes per score).
    """
    h = m.hidden
    gated = m.intermediate not in (4 * h,) and m.kind == "decoder"
    if frozen:
        mlp = (2 if gated else 1) * 2 * m.intermediate / h + 1
    else:
        mlp = 2 + (3 if gated else 2) * 2 * m.intermediate / h + 1
    norms = 8 if amp else 4
    per_token = (11 + norms + mlp) * h * act / 2
    score_bytes = 11 if amp else 5 * act / 2
    scores = score_bytes * m.heads * s * s * b if eager else 0
    return s * b * per_token + scores


def estimate_memory(
    model: str | ModelSpec | None = None,
    *,
    config: Path | None = None,
    params: int | None = None,
    mode: str = "train",
    precision: str = "amp-bf16",
    optimizer: str = "adamw",
    batch: int = 1,
    seq: int = 2048,
    grad_checkpointing: bool = False,
    gpus: int = 1,
    sharding: str = "ddp",
    tp: int = 1,
    kv_tokens: int | None = None,
    lora_rank: int = 16,
    attention: Literal["sdpa", "eager"] = "sdpa",
    foreach_optimizer: bool = True,
    lm_head: bool | None = None,
    cuda_context_bytes: int = CUDA_CONTEXT_BYTES,
    engine_reserve_bytes: int = 0,
) -> MemoryEstimate:
    """Estimate peak memory per GPU for one job; see the module docstring for the components.

    ``kv_tokens`` (inference) is the context held per sequence; it defaults to ``seq``.
    ``lm_head=None`` means "decoders and encoder-decoders compute vocabulary logits, encoders
    (classification heads) do not".
    """
    m = model_spec(model, config=config, params=params)
    _check("mode", mode, MODES)
    _check("precision", precision, PRECISIONS)
    _check("optimizer", optimizer, OPTIMIZERS)
    _check("sharding", sharding, SHARDINGS)
    for name, value in (("batch", batch), ("seq", seq), ("gpus", gpus), ("tp", tp)):
        _positive(name, value)
    if gpus % tp:
        raise InvalidInput(f"--gpus {gpus} is not a multiple of --tp {tp}")
    if mode == "train" and precision in ("int8", "int4"):
        raise InvalidInput(
            f"full training in {precision} is not supported",
            fix="use --mode qlora (4-bit base) or --mode lora --precision int8",
        )
    dp = gpus // tp
    notes: list[str] = []
    act = _ACT_BYTES[precision]
    emb = m.embedding_params
    body = m.params - emb
    lm = (m.kind != "encoder") if lm_head is None else lm_head
    parts: dict[str, float] = {}

    if mode == "infer":
        wbytes = (
            _WEIGHT_BYTES[precision]
            if precision in ("int8", "int4")
            else (1.0 if precision == "fp8" else min(_WEIGHT_BYTES[precision], 2.0))
        )
        if precision == "fp32":
            wbytes = 4.0
        keep16 = precision in ("int8", "int4", "fp8")  # quantizers keep embeddings/head 16-bit
        parts["weights"] = (body * wbytes + emb * (2 if keep16 else wbytes)) / tp
        tokens = seq if kv_tokens is None else kv_tokens
        kv_layers = m.layers if m.kind != "encoder-decoder" else m.decoder_layers
        kv_act = 4 if precision == "fp32" else 2
        parts["kv_cache"] = 2 * kv_layers * m.kv_dim * tokens * batch * kv_act / tp
        # First forward over the prompt: the widest intermediate, eager attention scores, and
        # the logits of every prompt position with their fp32 upcast (transformers generate()).
        widest = max(m.intermediate * 2, 4 * m.hidden) * seq * batch * kv_act / tp
        scores = m.heads * seq * seq * batch * (kv_act + 4) / tp if attention == "eager" else 0
        logits = seq * batch * m.vocab * (kv_act + 4) if lm else 0
        parts["activations"] = widest + scores
        parts["logits_and_loss"] = logits
        if precision in ("int8", "int4"):
            # One dequantized 16-bit weight matrix at a time (bitsandbytes matmul).
            parts["temporary_buffers"] = m.hidden * m.intermediate * 2
    else:
        trainable: float
        if mode == "train":
            trainable = m.params
            wbytes = _WEIGHT_BYTES[precision]
            parts["weights"] = m.params * wbytes
            gbytes = 4.0 if precision in ("fp32", "amp-fp16", "amp-bf16") else 2.0
            parts["gradients"] = trainable * gbytes
            if precision.startswith("amp"):
                parts["autocast_weight_copy"] = body * 2
            if precision == "fp8":
                parts["autocast_weight_copy"] = body * 1
            state_elem = 4.0 if gbytes == 4.0 else 2.0
        else:
            base = "int4" if mode == "qlora" else precision
            attn_in = m.hidden + m.heads * (m.head_dim or m.hidden // m.heads)
            layers = m.layers + m.decoder_layers
            trainable = layers * lora_rank * (2 * attn_in + 2 * (m.hidden + m.kv_dim))
            parts["weights"] = (
                body * _WEIGHT_BYTES[base] + emb * min(_WEIGHT_BYTES[base], 4)
                if base not in ("int8", "int4")
                else body * _WEIGHT_BYTES[base] + emb * 2
            )
            parts["weights"] += trainable * 4
            parts["gradients"] = trainable * 4
            state_elem = 4.0
            if base in ("int8", "int4"):
                parts["temporary_buffers"] = m.hidden * m.intermediate * 2
        opt = {
            "adamw": 2 * state_elem,
            "adamw-8bit": 2.0,
            "sgd": state_elem,
            "adafactor": 0.0,
        }[optimizer] * trainable
        if optimizer == "adafactor":
            opt = 2 * state_elem * trainable / m.hidden * 2  # row + column statistics
        parts["optimizer_states"] = opt
        # Sharding of model states across data-parallel ranks, then tensor parallelism.
        shard_opt = dp if sharding in ("zero1", "zero2", "zero3", "fsdp") else 1
        shard_grad = dp if sharding in ("zero2", "zero3", "fsdp") else 1
        shard_w = dp if sharding in ("zero3", "fsdp") else 1
        parts["optimizer_states"] /= shard_opt * tp
        parts["gradients"] /= shard_grad * tp
        parts["weights"] /= shard_w * tp
        if "autocast_weight_copy" in parts:
            parts["autocast_weight_copy"] /= shard_w * tp
        if shard_w > 1:
            # A gathered layer (and its prefetch) is materialized at a time.
            parts["temporary_buffers"] = parts.get("temporary_buffers", 0) + (
                2 * (body / max(m.layers, 1)) * min(_WEIGHT_BYTES[precision], 2) / tp
            )
        layers = m.layers + int(m.decoder_layers * 1.5)
        eager = attention == "eager"
        one = (
            _layer_activations(
                m, batch, seq, act, eager, frozen=mode != "train", amp=precision.startswith("amp")
            )
            / tp
        )
        if grad_checkpointing:
            parts["activations"] = layers * seq * batch * m.hidden * act / tp + one
        else:
            parts["activations"] = layers * one
        parts["logits_and_loss"] = seq * batch * m.vocab * (act + 4 + 4) / tp if lm else 0
        if optimizer in ("adamw",) and foreach_optimizer:
            temp = trainable * state_elem / (shard_opt * tp)
            dynamic = parts["activations"] + parts["logits_and_loss"]
            if temp > dynamic:
                parts["optimizer_step_temp"] = temp - dynamic
                notes.append("the optimizer step's temporary is larger than the activations")
    dynamic = sum(v for k, v in parts.items() if k not in ("weights",))
    parts["allocator_reserve"] = ALLOCATOR_SLACK * dynamic
    parts["cuda_context"] = cuda_context_bytes
    if engine_reserve_bytes:
        parts["engine_reserve"] = engine_reserve_bytes
    breakdown = {k: round(v) for k, v in parts.items() if v}
    if m.name not in PRESETS and params is not None:
        notes.append("architecture guessed from the parameter count; activations are rough")
    return MemoryEstimate(
        model=m.name,
        params=m.params,
        mode=mode,
        precision=precision,
        per_gpu_bytes=sum(breakdown.values()),
        breakdown=breakdown,
        inputs={
            "optimizer": optimizer if mode != "infer" else None,
            "batch": batch,
            "seq": seq,
            "grad_checkpointing": grad_checkpointing,
            "gpus": gpus,
            "sharding": sharding,
            "tp": tp,
            "kv_tokens": kv_tokens,
            "attention": attention,
        },
        notes=tuple(notes),
    )
