"""What one training or inference step keeps on the device, op by op, as PyTorch runs it.

Every term is read off the implementation, not fitted: which tensors autograd saves for the
backward pass (an op saves an input only when the gradient that needs it is required), the
dtypes torch autocast gives each op (``layer_norm``, ``pow``, ``softmax``, ``log_softmax`` run in
fp32; linear layers and ``scaled_dot_product_attention`` in 16 bits, each call casting its own
input), what PEFT's LoRA layer does (casts its input to the adapters' fp32), what Hugging Face's
causal-LM loss does (``logits.float()`` then ``cross_entropy``), and what SDPA's flash and
memory-efficient kernels keep (query, key, value, output and a log-sum-exp, never the scores).

Sizes are bytes per token of one layer unless a name says otherwise. ``h`` hidden size, ``qd``
query width (heads x head dim), ``kd`` key/value width, ``i`` MLP width.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlcost.plan._models import ModelSpec

__all__ = [
    "ALL_LINEARS",
    "ATTN_LINEARS",
    "FULL",
    "Regime",
    "infer_layer_peak",
    "layer_saved",
    "loss_peak_per_token",
    "tail_saved",
]

_ATTN = ("q", "k", "v", "o")
_MLP = ("gate", "up", "down")


@dataclass(frozen=True)
class Regime:
    """How a step runs: storage of the residual stream (``r``), compute dtype (``c``), autocast,
    which linear layers train their weight and which carry a LoRA adapter."""

    r: int  # bytes of the residual stream: fp32 under autocast (fp32 embeddings) or fp32 runs
    c: int  # bytes of the compute dtype of linear layers and attention
    amp: bool
    trainable: frozenset[str]  # linear weights with a gradient
    lora: frozenset[str]  # linear layers with an adapter (base frozen)
    dropout: bool
    eager: bool

    @property
    def norm_trainable(self) -> bool:
        return bool(self.trainable)


def _group_inputs(reg: Regime, names: tuple[str, ...], in_bytes: int) -> float:
    """Bytes saved for the weight gradients / adapters of linear layers sharing one input of
    ``in_bytes`` per element. Under autocast each linear call casts (and saves) its own copy;
    PEFT casts the input of each adapted layer to fp32 for its adapters."""
    full = [n for n in names if n in reg.trainable]
    lora = [n for n in names if n in reg.lora]
    saved = 0.0
    if full:
        saved += len(full) * reg.c if reg.amp and in_bytes != reg.c else in_bytes
    if lora:
        saved += len(lora) * 4 if in_bytes != 4 else (0 if full else 4)
    return saved


def _norm(m: ModelSpec, reg: Regime, requires_grad: bool = True) -> tuple[float, int]:
    """Bytes per hidden unit one norm saves, and the bytes of its output."""
    if not requires_grad:
        return 0.0, 4 if reg.amp else reg.r
    if m.norm == "layer":
        # native_layer_norm saves its input (mean/rstd are per token); autocast runs it in fp32.
        return float(reg.r), 4 if reg.amp else reg.r
    # RMSNorm (Llama/Qwen/Mistral/T5): x.to(fp32) is kept by pow; weight * x.to(dtype) keeps the
    # normalized tensor in the input dtype when the weight trains.
    saved = 4.0 + (reg.r if reg.norm_trainable else 0.0)
    return saved, reg.r if not reg.amp else 4


def layer_saved(m: ModelSpec, reg: Regime, seq: int, first: bool = False) -> float:
    """Bytes per token one decoder layer keeps for backward (``first``: its input needs no
    gradient, as a frozen base's first layer under LoRA)."""
    h, qd, kd, i, c = m.hidden, m.q_dim, m.kv_dim, m.intermediate, reg.c
    out = 0.0
    # Attention block.
    norm, norm_out = _norm(m, reg, requires_grad=not first or reg.norm_trainable)
    out += norm * h
    out += _group_inputs(reg, ("q",) if m.fused_qkv else ("q", "k", "v"), norm_out) * h
    if not reg.eager:
        # Flash / memory-efficient SDPA keeps q, k, v and its output (+ log-sum-exp per head).
        out += c * (qd + 2 * kd) + c * qd
    else:
        # Eager attention: the two matmuls keep q and k, v repeated to every head
        # (``repeat_kv``); softmax keeps its output, in fp32 under autocast or where the model
        # asks for it (Llama-family ``softmax(..., dtype=float32)``), and the second matmul
        # keeps the 16-bit probabilities (dropout's output, with its mask, when dropout is on).
        out += 3 * c * qd
        soft = 4 if reg.amp or m.gated else c
        probs = (1 + c) if reg.dropout else (c if soft != c else 0)
        out += (soft + probs) * m.heads * seq
    # o_proj input: the heads merged by a reshape copy, saved by the weight or its adapter.
    out += _group_inputs(reg, ("o",), c) * qd
    if reg.dropout:
        out += h  # residual dropout mask (bool)
    # MLP block.
    norm, norm_out = _norm(m, reg)
    out += norm * h
    if m.gated:
        out += _group_inputs(reg, ("gate", "up"), norm_out) * h
        out += 3 * c * i  # silu keeps its input; the product keeps silu's output and up's
        out += _group_inputs(reg, ("down",), c) * i
    else:
        out += _group_inputs(reg, ("up",), norm_out) * h
        if m.activation == "gelu_new":
            # 0.5*x*(1+tanh(k*(x+0.044715*x**3))) in Python: pow (fp32 under autocast) keeps
            # its input, tanh its output, the last product both factors (0.5*x and 1+tanh).
            a = 4 if reg.amp else c
            out += (3 * a + c) * i
            out += _group_inputs(reg, ("down",), a) * i
        elif m.activation == "relu":
            out += c * i  # relu keeps its output, the same tensor the down projection keeps
            out += _group_inputs(reg, ("down",), c) * i if "down" in reg.lora else 0
        else:  # fused gelu / gelu-tanh keeps its input; the down projection keeps the output
            out += c * i
            out += _group_inputs(reg, ("down",), c) * i
    if reg.dropout:
        out += h
    return out


def tail_saved(m: ModelSpec, reg: Regime) -> float:
    """Bytes per token outside the layers: the embedding dropout mask, the final norm and the
    LM head's input."""
    norm, norm_out = _norm(m, reg)
    head = _group_inputs(reg, ("head",), norm_out)
    return m.hidden * (norm + head + (1 if reg.dropout else 0))


def loss_peak_per_token(
    m: ModelSpec, reg: Regime, chunks: int = 1, compiled: bool = False
) -> float:
    """Bytes per token of the logits at the peak of the loss.

    One chunk (Hugging Face's causal-LM loss): at the loss's backward, the model output's
    logits (kept by the training loop's ``outputs`` until backward), ``log_softmax``'s saved
    fp32 output, the fp32 gradient ``nll_loss`` returns and the one ``log_softmax`` returns.

    ``chunks`` > 1 (torchtune's ``CEWithChunkedOutputLoss`` with the model's
    ``num_output_chunks``): the output projection runs per chunk of tokens and each chunk is
    upcast (``.float()``, which saves nothing) right before its ``cross_entropy``, whose
    ``log_softmax`` saves its fp32 output; the recipe deletes the 16-bit logits before
    ``backward()``. The larger of the end of the loss's forward (16-bit logits, every chunk's
    saved fp32 output, the last chunk's fp32 copy) and its backward (the saved outputs, and of
    one chunk either the fp32 gradients of ``nll_loss`` and ``log_softmax`` or the latter and
    its 16-bit cast).

    ``compiled`` (torchtune's ``compile_loss``: ``torch.compile`` on the upcast and
    ``cross_entropy`` of a chunk): AOTAutograd's partitioner saves the chunk's 16-bit input and
    a log-sum-exp per token, and recomputes the fp32 softmax inside the fused backward kernel,
    which writes the chunk's gradient in 16 bits. The logits stay alive (saved by the compiled
    graph), plus one chunk's gradient."""
    held = 4 if reg.c == 4 else 2  # lm_head output: 16-bit under autocast or bf16 weights
    if compiled:
        return m.vocab * (held + 4 / m.vocab + held / chunks)
    if chunks <= 1:
        return m.vocab * (held + 4 + 4 + 4)
    forward_end = held + 4 + 4 / chunks
    backward = 4 + max(4 + 4, 4 + held) / chunks
    return m.vocab * max(forward_end, backward)


def infer_layer_peak(m: ModelSpec, c: int, eager: bool, seq: int) -> float:
    """Bytes per token live at the widest point of one layer's no-grad forward: the layer's
    input (held by the caller), the residual, the norm output and the MLP's intermediates
    (silu output, up projection and their product; or up and activation)."""
    h, i = m.hidden, m.intermediate
    mlp = 3 * c * i if m.gated else 2 * c * i
    attn = (c + 4) * m.heads * seq if eager else 0.0  # scores + their fp32 softmax
    return 3 * c * h + max(mlp, attn + c * (m.q_dim + 2 * m.kv_dim))


ATTN_LINEARS = frozenset(_ATTN)
ALL_LINEARS = frozenset(_ATTN + _MLP)
FULL = frozenset((*_ATTN, *_MLP, "head"))
