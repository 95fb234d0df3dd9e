"""Peak GPU memory per device for training, fine-tuning and inference, as a breakdown.

The estimate adds what real runs allocate, read off the implementation, not fitted:

- ``weights``, ``gradients``, ``optimizer_states`` (AdamW: two moments in the gradient's dtype;
  8-bit Adam: two bytes; SGD with momentum: one copy; Adafactor: factored row/column statistics);
- ``autocast_weight_copy``: under torch autocast, the 16-bit copies of every weight a linear
  layer reads, cached for the forward and saved for the backward;
- ``activations``: for decoders, what autograd saves op by op (``_saved.py``: autocast dtypes,
  SDPA's kept tensors, PEFT's fp32 casts, dropout masks), or each layer's input and one layer
  with checkpointing; for encoders, Korthikanti et al. (2022), eq. 1 and 2;
- ``logits_and_loss``: the logits and the fp32 tensors of Hugging Face's causal-LM loss at its
  backward (training), or torchtune's chunked (and compiled) loss; the last position's logits
  (``generate()``);
- ``optimizer_step_temp``: foreach AdamW's state-size temporary during ``step()`` (with the
  optimizer in backward: one parameter's gradient and step at a time; paged optimizer states
  are reported in ``inputs``, not counted);
- ``kv_cache`` for batch x context (``generate()``) or vLLM's pool on a given card;
- ``allocator_reserve``: the caching allocator's rounding of large blocks (1 MiB each);
- ``cuda_context``: CUDA context and kernels, 1343 MiB measured on a V100 in the Hugging Face
  "Model training anatomy" guide (2022); pass your machine's figure.
- ``engine_reserve``: vLLM's CUDA-graph pool, plus what the user adds.

Training reports the larger of three moments (the loss's backward, a checkpointed layer's
recomputation, the optimizer step); ``notes`` names it. Validated against ten steps measured on
an H200 (``tests/plan/test_memory_measured.py``) and published readings
(``tests/plan/test_memory.py``), kept apart; the errors are in ``docs/planning.md``.

    >>> est = estimate_memory("llama-3-8b", mode="infer", precision="bf16", kv_tokens=8192)
    >>> round(est.per_gpu_bytes / 2**30)
    18
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlcost.catalog import nearest
from mlcost.errors import InvalidInput, NoFit, UnknownName
from mlcost.plan._models import PRESETS, ModelSpec, model_from_config, preset
from mlcost.plan._saved import (
    ALL_LINEARS,
    ATTN_LINEARS,
    FULL,
    Regime,
    infer_layer_peak,
    layer_saved,
    loss_peak_per_token,
    tail_saved,
)

__all__ = [
    "ENGINES",
    "LORA_TARGETS",
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
ENGINES: tuple[str, ...] = ("hf", "vllm")
LORA_TARGETS: tuple[str, ...] = ("attn", "all-linear")

GIB = 2**30
CUDA_CONTEXT_BYTES = 1343 * 2**20  # HF "Model training anatomy", V100, 2022

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
        # Llama-family proportions: hidden^2 * 12 * layers ~ params, layers ~ hidden / 128;
        # a 32k vocabulary, smaller where its embeddings would outweigh half the model.
        hidden = max(256, round((params / 12 * 128) ** (1 / 3) / 128) * 128)
        layers = max(1, round(params / (12 * hidden * hidden)))
        vocab = max(256, min(32000, params // (4 * hidden)))
        return ModelSpec(
            f"{params / 1e9:.2f}B params" if params >= 1e8 else f"{params / 1e6:.1f}M params",
            params,
            layers,
            hidden,
            hidden // 128 or 1,
            hidden // 128 or 1,
            vocab,
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


def _regime(m: ModelSpec, mode: str, precision: str, lora_targets: str, eager: bool) -> Regime:
    amp = precision.startswith("amp")
    c = 4 if precision == "fp32" else 2
    r = 4 if amp or precision == "fp32" else 2
    if mode == "train":
        trainable, lora = FULL, frozenset[str]()
    else:
        trainable = frozenset()
        lora = ATTN_LINEARS if lora_targets == "attn" else ALL_LINEARS
    if mode == "qlora":
        r = 2  # 4-bit bases compute in 16 bits (bnb_4bit_compute_dtype)
    return Regime(r, c, amp, trainable, lora, m.dropout, eager)


def _lora_params(m: ModelSpec, rank: int, targets: str) -> int:
    """Adapter parameters: rank x (in + out) per adapted linear layer."""
    shapes = [(m.hidden, m.q_dim), (m.hidden, m.kv_dim), (m.hidden, m.kv_dim), (m.q_dim, m.hidden)]
    if targets == "all-linear":
        shapes += [(m.hidden, m.intermediate)] * (2 if m.gated else 1)
        shapes += [(m.intermediate, m.hidden)]
    return (m.layers + m.decoder_layers) * rank * sum(a + b for a, b in shapes)


def _round_blocks(tensors: float) -> float:
    """PyTorch's caching allocator rounds each block over 10 MiB up to a multiple of 2 MiB:
    on average 1 MiB per large live tensor (smaller ones share 2 and 20 MiB segments)."""
    return tensors * 2**20


def _large(elements: float, nbytes: float, count: float = 1) -> float:
    """``count`` if a tensor of ``elements`` x ``nbytes`` is a large block (over 10 MiB)."""
    return count if elements * nbytes > 10 * 2**20 else 0


def _large_weights(m: ModelSpec, nbytes: float) -> float:
    """How many weight matrices of ``m`` are large blocks at ``nbytes`` per element."""
    h, i = m.hidden, m.intermediate
    shapes = [h * m.q_dim, h * m.kv_dim, h * m.kv_dim, m.q_dim * h, h * i, i * h]
    if m.gated:
        shapes.append(h * i)
    per_layer = sum(_large(n, nbytes) for n in shapes)
    emb = _large(m.vocab * h, nbytes, 1 if m.tied_embeddings else 2)
    return per_layer * (m.layers + m.decoder_layers) + emb


def _large_saved(m: ModelSpec, tokens: float, c: int, layers: int) -> float:
    """Saved activations that are large blocks: about one per hidden-width tensor a layer
    keeps (16 for a transformer layer), when a token batch of them exceeds 10 MiB."""
    return _large(tokens * m.hidden, c, 16 * layers)


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
    gpus: int | None = None,
    sharding: str = "ddp",
    tp: int = 1,
    kv_tokens: int | None = None,
    lora_rank: int = 16,
    lora_targets: str = "attn",
    engine: str = "hf",
    gpu_memory_gib: float | None = None,
    gpu_memory_utilization: float = 0.9,
    max_num_batched_tokens: int = 8192,
    attention: Literal["sdpa", "eager"] = "sdpa",
    foreach_optimizer: bool = True,
    loss_chunks: int = 1,
    optimizer_in_backward: bool = False,
    paged_optimizer: bool = False,
    compiled_loss: bool = False,
    lm_head: bool | None = None,
    cuda_context_bytes: int = CUDA_CONTEXT_BYTES,
    engine_reserve_bytes: int = 0,
) -> MemoryEstimate:
    """Estimate peak memory per GPU for one job; see the module docstring for the components.

    ``kv_tokens`` (inference) is the context held per sequence (prompt + generated tokens); it
    defaults to ``seq``. ``gpus`` defaults to ``tp`` (tensor parallelism alone). ``engine="vllm"``
    sizes vLLM's KV pool on a card of ``gpu_memory_gib``. ``lm_head=None`` means "decoders and
    encoder-decoders compute vocabulary logits, encoders (classification heads) do not".

    Three options of torchtune's recipes (decoders): ``loss_chunks`` N computes the loss on N
    chunks of tokens, each upcast to fp32 on its own (``CEWithChunkedOutputLoss``);
    ``optimizer_in_backward`` steps each parameter from a hook as its gradient is ready and
    frees that gradient, so the gradients are never all resident and there is no separate
    step; ``paged_optimizer`` (bitsandbytes' ``PagedAdamW``/``PagedAdamW8bit``) keeps the
    optimizer states in CUDA managed memory, outside PyTorch's allocator, which the driver
    moves to host memory when the card is full: they are reported, not counted per GPU;
    ``compiled_loss``: ``torch.compile`` on the loss (torchtune's ``compile=True``), whose fused
    cross-entropy keeps the 16-bit logits instead of fp32 log-probabilities.
    """
    m = model_spec(model, config=config, params=params)
    _check("mode", mode, MODES)
    _check("precision", precision, PRECISIONS)
    _check("optimizer", optimizer, OPTIMIZERS)
    _check("sharding", sharding, SHARDINGS)
    _check("engine", engine, ENGINES)
    _check("LoRA targets", lora_targets, LORA_TARGETS)
    gpus = tp if gpus is None else gpus
    for name, value in (
        ("batch", batch),
        ("seq", seq),
        ("gpus", gpus),
        ("tp", tp),
        ("lora_rank", lora_rank),
        ("max_num_batched_tokens", max_num_batched_tokens),
        ("loss_chunks", loss_chunks),
    ):
        _positive(name, value)
    if gpus % tp:
        raise InvalidInput(
            f"--gpus {gpus} is not a multiple of --tp {tp}",
            fix=f"give --gpus {tp * max(1, gpus // tp)} (or leave --gpus out: --tp {tp} alone "
            f"means {tp} GPUs)",
        )
    if mode == "train" and precision in ("int8", "int4"):
        raise InvalidInput(
            f"full training in {precision} is not supported",
            fix="use --mode qlora (4-bit base) or --mode lora --precision int8",
        )
    if mode == "infer" and (
        optimizer_in_backward or paged_optimizer or compiled_loss or loss_chunks > 1
    ):
        raise InvalidInput(
            "--optimizer-in-backward, --paged-optimizer, --compiled-loss and --chunked-loss are "
            "training options",
            fix="leave them out with --mode infer",
        )
    if paged_optimizer and optimizer not in ("adamw", "adamw-8bit"):
        raise InvalidInput(
            f"bitsandbytes pages AdamW's states, not {optimizer}'s",
            fix="use --optimizer adamw or adamw-8bit with --paged-optimizer",
        )
    if engine == "vllm" and mode != "infer":
        raise InvalidInput("--engine vllm serves models", fix="use --mode infer with it")
    if not 0 < gpu_memory_utilization <= 1:
        raise InvalidInput(
            f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}",
            fix="e.g. 0.9 (vLLM's default)",
        )
    dp = gpus // tp
    notes: list[str] = []
    lm = (m.kind != "encoder") if lm_head is None else lm_head
    parts: dict[str, float]
    extra: dict[str, Any] = {}
    job = _Job(
        m, mode, precision, optimizer, batch, seq, grad_checkpointing, dp, sharding, tp,
        lora_rank, lora_targets, attention == "eager", foreach_optimizer, lm,
        loss_chunks, optimizer_in_backward, paged_optimizer, compiled_loss,
    )  # fmt: skip
    if mode == "infer" and engine == "vllm":
        parts, extra = _vllm(
            m, precision, tp, gpu_memory_gib, gpu_memory_utilization, max_num_batched_tokens
        )
        notes.append(
            f"vLLM takes {gpu_memory_utilization:.0%} of the card; its KV pool holds "
            f"{extra['kv_pool_tokens']:,} tokens ({extra['kv_pool_tokens'] // seq:,} sequences "
            f"of {seq} tokens)"
        )
    elif mode == "infer":
        parts = _hf_generate(m, precision, batch, seq, kv_tokens, tp, attention, lm)
    elif m.kind == "decoder":
        parts, phase = _train_decoder(job)
        notes.append(f"peak: {phase}")
        if paged_optimizer:
            paged = _model_states(job).states
            extra["paged_optimizer_bytes"] = round(paged)
            notes.append(
                f"optimizer states ({paged / GIB:.1f} GiB) are paged (CUDA managed memory): "
                "not counted per GPU, the driver moves them to host memory when the card is full"
            )
    else:
        parts = _train_korthikanti(job)
    parts["cuda_context"] = cuda_context_bytes
    if engine_reserve_bytes:
        parts["engine_reserve"] = parts.get("engine_reserve", 0) + engine_reserve_bytes
    keep = {"weights", "gradients", "optimizer_states", "activations", "logits_and_loss"}
    breakdown = {k: round(v) for k, v in parts.items() if v or (k in keep and mode != "infer")}
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
            "engine": engine,
            **({"lora_rank": lora_rank, "lora_targets": lora_targets} if "lora" in mode else {}),
            **(
                {
                    "loss_chunks": loss_chunks,
                    "optimizer_in_backward": optimizer_in_backward,
                    "paged_optimizer": paged_optimizer,
                    "compiled_loss": compiled_loss,
                }
                if mode != "infer"
                else {}
            ),
            **extra,
        },
        notes=tuple(notes),
    )


def _weight_bytes_infer(m: ModelSpec, precision: str, tp: int) -> float:
    """Served weights: 16-bit unless quantized; quantizers keep embeddings and head 16-bit."""
    emb, body = m.embedding_params, m.params - m.embedding_params
    if precision == "fp32":
        return m.params * 4.0 / tp
    if precision in ("int8", "int4", "fp8"):
        w = _WEIGHT_BYTES[precision] if precision != "fp8" else 1.0
        return (body * w + emb * 2) / tp
    return m.params * 2.0 / tp


def _hf_generate(
    m: ModelSpec,
    precision: str,
    batch: int,
    seq: int,
    kv_tokens: int | None,
    tp: int,
    attention: str,
    lm: bool,
) -> dict[str, float]:
    """transformers ``generate()``: weights, a KV cache of batch x context, the widest point
    of one layer's prefill (no autograd), and the logits of the last position only (generate
    passes ``logits_to_keep=1``) with their fp32 copy."""
    c = 4 if precision == "fp32" else 2
    parts: dict[str, float] = {"weights": _weight_bytes_infer(m, precision, tp)}
    tokens = seq if kv_tokens is None else kv_tokens
    kv_layers = m.layers if m.kind != "encoder-decoder" else m.decoder_layers
    parts["kv_cache"] = 2 * kv_layers * m.kv_dim * tokens * batch * c / tp
    parts["activations"] = infer_layer_peak(m, c, attention == "eager", seq) * seq * batch / tp
    parts["logits_and_loss"] = batch * m.vocab * (c + 4) if lm else 0
    if precision in ("int8", "int4"):
        # One dequantized 16-bit weight matrix at a time (bitsandbytes matmul).
        parts["temporary_buffers"] = m.hidden * m.intermediate * 2
    c_tokens = batch * tokens / tp
    parts["allocator_reserve"] = _round_blocks(
        _large_weights(m, c) + _large(c_tokens * m.kv_dim, c, 2 * kv_layers)
    )
    return parts


def _vllm(
    m: ModelSpec,
    precision: str,
    tp: int,
    gpu_memory_gib: float | None,
    utilization: float,
    max_batched: int,
) -> tuple[dict[str, float], dict[str, Any]]:
    """vLLM: weights, the profile run (one forward of ``max_num_batched_tokens`` tokens, whose
    peak it keeps free), CUDA graphs (captured for batches up to 512 sequences, one token each)
    and a KV pool filling the rest of ``utilization`` x the card (vLLM's
    ``gpu_memory_utilization``); the process then holds that share of the card."""
    if gpu_memory_gib is None:
        raise InvalidInput(
            "--engine vllm sizes its KV pool from the card's memory",
            fix="give --gpu-memory-gib (e.g. 80 for an H100) or plan with --engine hf",
        )
    c = 4 if precision == "fp32" else 2
    weights = _weight_bytes_infer(m, precision, tp)
    # vLLM fuses q/k/v and gate/up: the widest point is gate_up (2i) + the activation (i).
    width = (3 * m.intermediate if m.gated else 2 * m.intermediate) + m.q_dim + 2 * m.kv_dim
    profile = (width + 3 * m.hidden) * c * max_batched / tp
    sampler = 256 * m.vocab * 4  # fp32 logits of max_num_seqs (256) sampled sequences
    graphs = (width + 3 * m.hidden) * c * 512 / tp  # the graph pool of the largest capture
    budget = utilization * gpu_memory_gib * GIB
    kv_per_token = 2 * m.layers * m.kv_dim * c / tp
    pool = budget - weights - profile - sampler - graphs
    if pool <= 0:
        raise NoFit(
            f"{m.name} does not leave room for a KV pool on a {gpu_memory_gib:g} GiB card at "
            f"gpu_memory_utilization {utilization}: weights {weights / GIB:.1f} GiB, profile "
            f"run {(profile + sampler) / GIB:.1f} GiB. Use --tp 2 or more, a larger card, or "
            "--max-num-batched-tokens lower."
        )
    parts = {
        "weights": weights,
        "activations": profile + sampler,
        "engine_reserve": graphs,
        "kv_cache": pool,
    }
    return parts, {"kv_pool_tokens": int(pool // kv_per_token)}


@dataclass(frozen=True)
class _Job:
    """One training job's options, as :func:`estimate_memory` checked them."""

    m: ModelSpec
    mode: str
    precision: str
    optimizer: str
    batch: int
    seq: int
    ckpt: bool
    dp: int
    sharding: str
    tp: int
    lora_rank: int
    lora_targets: str
    eager: bool
    foreach: bool
    lm: bool
    loss_chunks: int = 1
    in_backward: bool = False
    paged: bool = False
    compiled_loss: bool = False

    def head(self) -> tuple[ModelSpec, str, str, str, int, int, bool, int, str, int]:
        return (self.m, self.mode, self.precision, self.optimizer, self.batch, self.seq,
                self.ckpt, self.dp, self.sharding, self.tp)  # fmt: skip

    def tail(self) -> tuple[int, str, bool, bool, bool]:
        return self.lora_rank, self.lora_targets, self.eager, self.foreach, self.lm


@dataclass(frozen=True)
class _States:
    """Model states per GPU (bytes) after sharding and tensor parallelism."""

    trainable: float
    weights: float
    copy: float  # autocast's 16-bit weight copies (fp8: 8-bit)
    grads: float
    states: float
    step_temp: float
    gathered: float  # ZeRO-3 / FSDP: a gathered layer and its prefetch
    dequant: float  # bitsandbytes: one dequantized 16-bit matrix
    largest_grad: float = 0.0  # the largest trainable parameter's gradient
    largest_step: float = 0.0  # the optimizer step's temporaries for that parameter alone


def _model_states(job: _Job) -> _States:
    """Weights, gradients, optimizer states and the optimizer step's temporaries.

    AdamW keeps two moments in the gradient's dtype (8-bit Adam: two bytes); SGD one momentum;
    Adafactor factored row/column statistics. PyTorch's foreach AdamW allocates the square
    root of the second moment (one state-size tensor) during ``step()``; the per-parameter
    loops (AdamW without foreach, transformers' Adafactor: an fp32 gradient, its square and the
    update, plus an fp32 copy of a 16-bit weight) need one parameter's temporaries at a time,
    the largest; SGD updates in place.
    """
    m, mode, precision, optimizer, _, _, _, dp, sharding, tp = job.head()
    lora_rank, lora_targets, _, foreach, lm = job.tail()
    emb = m.embedding_params
    body = m.params - emb
    copy = 0.0
    if mode == "train":
        trainable = float(m.params)
        weights = m.params * _WEIGHT_BYTES[precision]
        gbytes = 4.0 if precision in ("fp32", "amp-fp16", "amp-bf16") else 2.0
        # Autocast caches a 16-bit copy of every weight a linear layer reads: the LM head
        # included, input embeddings (looked up, not multiplied) not.
        linear = body + (m.vocab * m.hidden if lm else 0)
        copy = max(0, linear) * {"amp-fp16": 2.0, "amp-bf16": 2.0, "fp8": 1.0}.get(precision, 0.0)
    else:
        base = "int4" if mode == "qlora" else precision
        trainable = float(_lora_params(m, lora_rank, lora_targets))
        quant = base in ("int8", "int4")
        weights = body * _WEIGHT_BYTES[base] + emb * (2 if quant else _WEIGHT_BYTES[base])
        weights += trainable * 4  # adapters in fp32 (PEFT's default autocast_adapter_dtype)
        gbytes = 4.0
    per_state = {"adamw": 2 * gbytes, "adamw-8bit": 2.0, "sgd": gbytes, "adafactor": 0.0}
    states = per_state[optimizer] * trainable
    if optimizer == "adafactor":
        states = 2 * gbytes * trainable / m.hidden * 2  # row + column statistics
    largest = float(max(m.vocab * m.hidden, m.hidden * m.intermediate))
    if mode != "train":
        largest = float(m.hidden * max(m.intermediate, m.hidden)) * lora_rank / m.hidden
    temp_total = {
        "adamw": gbytes * (trainable if foreach else largest),
        "adafactor": 4.0 * largest * (3 + (gbytes == 2.0)),
    }.get(optimizer, 0.0)
    shard_opt = dp if sharding in ("zero1", "zero2", "zero3", "fsdp") else 1
    shard_grad = dp if sharding in ("zero2", "zero3", "fsdp") else 1
    shard_w = dp if sharding in ("zero3", "fsdp") else 1
    gathered = 0.0
    if shard_w > 1:
        gathered = 2 * (body / max(m.layers, 1)) * min(_WEIGHT_BYTES[precision], 2) / tp
    dequant = m.hidden * m.intermediate * 2.0 if mode == "qlora" or precision == "int8" else 0
    return _States(
        trainable=trainable,
        weights=weights / (shard_w * tp),
        copy=copy / (shard_w * tp),
        grads=trainable * gbytes / (shard_grad * tp),
        states=states / (shard_opt * tp),
        step_temp=temp_total / (shard_opt * tp),
        gathered=gathered,
        dequant=dequant if mode != "train" else 0.0,
        largest_grad=largest * gbytes / tp,
        largest_step={"adamw": gbytes * largest, "adafactor": 4.0 * largest * 3}.get(optimizer, 0.0)
        / tp,
    )


def _train_decoder(job: _Job) -> tuple[dict[str, float], str]:
    """Training a decoder: the larger of three moments of a steady-state step.

    - the loss's backward: weights (+ autocast's 16-bit copies), optimizer states, everything
      the forward saved (or, with checkpointing, each layer's input), and the logits' peak;
    - with checkpointing, the last layer's recomputation during backward;
    - the optimizer step: weights, gradients, states and the step's temporaries.

    Gradients are ``None`` until backward (``zero_grad(set_to_none=True)``, PyTorch's default).
    """
    m, mode, precision, optimizer, batch, seq, ckpt, _dp, _sharding, tp = job.head()
    _lora_rank, lora_targets, eager, _foreach, lm = job.tail()
    reg = _regime(m, mode, precision, lora_targets, eager)
    tokens = batch * seq
    st = _model_states(job)
    weights, copy, states, grads = st.weights, st.copy, st.states, st.grads
    gathered, temp_q, step_temp = st.gathered, st.dequant, st.step_temp

    first_frozen = mode != "train"
    per_layer = [layer_saved(m, reg, seq, first=first_frozen and k == 0) for k in range(m.layers)]
    tail = tail_saved(m, reg) + (m.hidden * 4 if reg.dropout else 0)
    logits = (
        loss_peak_per_token(m, reg, job.loss_chunks, job.compiled_loss) * tokens / tp if lm else 0.0
    )
    if ckpt:
        kept = (m.layers * m.hidden * reg.r + tail) * tokens / tp
        one = max(per_layer) * tokens / tp
    else:
        kept = (sum(per_layer) + tail) * tokens / tp
        one = 0.0
    if job.paged:
        states = 0.0  # CUDA managed memory, outside PyTorch's allocator (see the notes)
    static = weights + copy + states + gathered + temp_q
    # The 16-bit logits the training loop holds until backward (torchtune's recipe deletes
    # them before backward()).
    held_logits = (4 if reg.c == 4 else 2) * m.vocab * tokens / tp if lm else 0.0
    if job.loss_chunks > 1:  # deleted, or (compiled) freed chunk by chunk by the loss's backward
        held_logits = 0.0
    # Optimizer in backward: one parameter's gradient (the largest) and its step at a time.
    in_bwd = st.largest_grad + st.largest_step if job.in_backward else 0.0
    moments = {
        "the loss's backward": static + kept + logits + in_bwd,
        "the recomputation of a checkpointed layer": static + kept + held_logits + one + in_bwd
        if ckpt
        else 0.0,
        "the optimizer step": 0.0
        if job.in_backward
        else weights + grads + states + step_temp + gathered,
    }
    phase = max(moments, key=lambda k: moments[k])
    parts: dict[str, float] = {"weights": weights, "optimizer_states": states}
    n_params = _large_weights(m, 2)
    if phase == "the optimizer step":
        parts.update(
            gradients=grads,
            optimizer_step_temp=step_temp,
            activations=0.0,
            logits_and_loss=0.0,
            temporary_buffers=gathered,
        )
        blocks = n_params * (3 + (optimizer == "adamw"))
    else:
        parts.update(
            gradients=st.largest_grad if job.in_backward else 0.0,
            optimizer_step_temp=st.largest_step if job.in_backward else 0.0,
            autocast_weight_copy=copy,
            activations=kept + (one if phase != "the loss's backward" else 0.0),
            logits_and_loss=logits if phase == "the loss's backward" else held_logits,
            temporary_buffers=gathered + temp_q,
        )
        blocks = n_params * (2 + bool(copy)) + _large_saved(m, tokens, reg.c, m.layers)
    parts["allocator_reserve"] = _round_blocks(blocks)
    return parts, phase


def _train_korthikanti(job: _Job) -> dict[str, float]:
    """Encoders and encoder-decoders: per-layer activations after Korthikanti et al. (2022),
    generalized to any MLP width, and model states summed at one moment."""
    m, mode, precision, optimizer, batch, seq, grad_checkpointing, _dp, _sharding, tp = job.head()
    _lora_rank, _, eager, _foreach_optimizer, lm = job.tail()
    act = _ACT_BYTES[precision]
    st = _model_states(job)
    parts: dict[str, float] = {
        "weights": st.weights,
        "gradients": st.grads,
        "autocast_weight_copy": st.copy,
        "optimizer_states": st.states,
        "temporary_buffers": st.gathered + st.dequant,
    }
    layers = m.layers + int(m.decoder_layers * 1.5)
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
    dynamic = parts["activations"] + parts["logits_and_loss"]
    if st.step_temp > dynamic:  # the step's temporary peaks after activations are freed
        parts["optimizer_step_temp"] = st.step_temp - dynamic
    copies = 3 + (optimizer in ("adamw", "adamw-8bit")) + bool(parts.get("autocast_weight_copy"))
    large = _large_weights(m, act) * (copies if mode == "train" else 1)
    parts["allocator_reserve"] = _round_blocks(large + _large_saved(m, batch * seq, act, layers))
    return parts
