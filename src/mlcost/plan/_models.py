"""Architecture facts of popular models, and reading a Hugging Face ``config.json``.

Facts are from each model's published ``config.json`` on the Hugging Face Hub and its parameter
count as printed by ``model.num_parameters()`` (model cards, 2026).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mlcost.catalog import nearest
from mlcost.errors import BadValue, InvalidInput, UnknownName

__all__ = ["PRESETS", "ModelSpec", "model_from_config", "preset"]

Kind = Literal["decoder", "encoder", "encoder-decoder"]


@dataclass(frozen=True)
class ModelSpec:
    """What the memory estimator needs to know about a transformer."""

    name: str
    params: int
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    vocab: int
    intermediate: int
    kind: Kind = "decoder"
    tied_embeddings: bool = False
    head_dim: int | None = None
    decoder_layers: int = 0  # encoder-decoder only: ``layers`` counts the encoder
    norm: Literal["rms", "layer"] = "rms"
    activation: str = "silu"  # silu (gated MLP), gelu, gelu_new (GPT-2's Python tanh), relu
    dropout: bool = False  # dropout active in training (GPT-2, BERT, T5 configs: 0.1)
    fused_qkv: bool = False  # one query/key/value projection (GPT-2 c_attn, BLOOM, BigCode)

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * (self.head_dim or self.hidden // self.heads)

    @property
    def q_dim(self) -> int:
        return self.heads * (self.head_dim or self.hidden // self.heads)

    @property
    def gated(self) -> bool:
        return self.activation == "silu"

    @property
    def embedding_params(self) -> int:
        """Input embeddings plus an untied output head (kept 16-bit by weight quantizers)."""
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)


def _m(name: str, params: float, *facts: int, **extra: Any) -> ModelSpec:
    layers, hidden, heads, kv_heads, vocab, intermediate = facts
    return ModelSpec(
        name, int(params), layers, hidden, heads, kv_heads, vocab, intermediate, **extra
    )


# Families whose layers differ from Llama's (RMSNorm, gated SiLU MLP, no dropout).
_GPT2: dict[str, Any] = {
    "norm": "layer",
    "activation": "gelu_new",
    "dropout": True,
    "fused_qkv": True,
}
_BERT: dict[str, Any] = {"norm": "layer", "activation": "gelu", "dropout": True}

# What a config.json leaves to its class's defaults (transformers' GPT2Config, BertConfig, ...).
_FAMILIES: dict[str, dict[str, Any]] = {
    "gpt2": _GPT2,
    "bert": _BERT,
    "bloom": {"norm": "layer", "activation": "gelu", "fused_qkv": True},
    "gpt_bigcode": {"norm": "layer", "activation": "gelu", "dropout": True, "fused_qkv": True},
    "t5": {"norm": "rms", "activation": "relu", "dropout": True},
}

PRESETS: dict[str, ModelSpec] = {
    m.name: m
    for m in [
        _m(
            "bert-base-uncased",
            109.5e6,
            *(12, 768, 12, 12, 30522, 3072),
            kind="encoder",
            tied_embeddings=True,
            **_BERT,
        ),
        _m(
            "bert-large-uncased",
            335.1e6,
            *(24, 1024, 16, 16, 30522, 4096),
            kind="encoder",
            tied_embeddings=True,
            **_BERT,
        ),
        _m("gpt2", 124.4e6, 12, 768, 12, 12, 50257, 3072, tied_embeddings=True, **_GPT2),
        _m("gpt2-xl", 1557.6e6, 48, 1600, 25, 25, 50257, 6400, tied_embeddings=True, **_GPT2),
        _m(
            "t0-3b",
            2849.8e6,
            24,
            1024,
            32,
            32,
            32128,
            16384,
            kind="encoder-decoder",
            head_dim=128,
            decoder_layers=24,
            norm="rms",
            activation="relu",
            dropout=True,
        ),
        _m(
            "mt0-xxl",
            12921.1e6,
            24,
            4096,
            64,
            64,
            250112,
            10240,
            kind="encoder-decoder",
            head_dim=64,
            decoder_layers=24,
            norm="rms",
            activation="gelu",
            dropout=True,
        ),
        _m(
            "bloomz-7b1",
            7069.0e6,
            *(30, 4096, 32, 32, 250880, 16384),
            tied_embeddings=True,
            norm="layer",
            activation="gelu",
            fused_qkv=True,
        ),
        _m(
            "octocoder",
            15517.5e6,
            *(40, 6144, 48, 1, 49152, 24576),
            norm="layer",
            activation="gelu",
            dropout=True,
            fused_qkv=True,
        ),
        _m("llama-2-7b", 6738.4e6, 32, 4096, 32, 32, 32000, 11008),
        _m("llama-2-13b", 13015.9e6, 40, 5120, 40, 40, 32000, 13824),
        _m("llama-2-70b", 68976.6e6, 80, 8192, 64, 8, 32000, 28672),
        _m("llama-3.2-1b", 1235.8e6, 16, 2048, 32, 8, 128256, 8192, tied_embeddings=True),
        _m(
            "llama-3.2-3b",
            3212.7e6,
            *(28, 3072, 24, 8, 128256, 8192),
            tied_embeddings=True,
            head_dim=128,
        ),
        _m("llama-3-8b", 8030.3e6, 32, 4096, 32, 8, 128256, 14336),
        _m("llama-3-70b", 70553.7e6, 80, 8192, 64, 8, 128256, 28672),
        _m("mistral-7b", 7241.7e6, 32, 4096, 32, 8, 32000, 14336),
        _m("qwen2.5-0.5b", 494.0e6, 24, 896, 14, 2, 151936, 4864, tied_embeddings=True),
        _m("qwen2.5-1.5b", 1543.7e6, 28, 1536, 12, 2, 151936, 8960, tied_embeddings=True),
        _m("qwen2.5-7b", 7615.6e6, 28, 3584, 28, 4, 152064, 18944),
    ]
}
_ALIASES = {
    "google-bert/bert-large-uncased": "bert-large-uncased",
    "bigcode/octocoder": "octocoder",
    "starcoder": "octocoder",
    "meta-llama/llama-2-7b-hf": "llama-2-7b",
    "meta-llama/llama-2-7b-chat-hf": "llama-2-7b",
    "meta-llama/meta-llama-3-8b": "llama-3-8b",
    "llama-3.1-8b": "llama-3-8b",
    "bigscience/t0_3b": "t0-3b",
    "bigscience/mt0-xxl": "mt0-xxl",
    "bigscience/bloomz-7b1": "bloomz-7b1",
    "qwen2.5-math-1.5b": "qwen2.5-1.5b",
}


def preset(name: str) -> ModelSpec:
    """A preset by name (case-insensitive; Hub ids of the presets work too)."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in PRESETS:
        raise UnknownName("model", name, nearest(name, PRESETS), see="mlcost plan memory --help")
    return PRESETS[key]


def _get(cfg: dict[str, Any], path: Path, *keys: str, default: int | None = None) -> int:
    for k in keys:
        if isinstance(cfg.get(k), int):
            return int(cfg[k])
    if default is not None:
        return default
    raise BadValue(
        f"no {' / '.join(keys)} in the config",
        file=path,
        column=keys[0],
        fix="give a transformers config.json, or use --params with explicit numbers",
    )


def model_from_config(path: Path) -> ModelSpec:
    """A :class:`ModelSpec` from a local Hugging Face ``config.json`` (decoder, encoder, or
    encoder-decoder). The parameter count is computed from the shapes."""
    try:
        cfg = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"cannot read a JSON config: {exc}", file=path, fix="give the model's config.json"
        ) from exc
    if not isinstance(cfg, dict):
        raise InvalidInput("config.json must hold an object", file=path)
    hidden = _get(cfg, path, "hidden_size", "d_model", "n_embd")
    layers = _get(cfg, path, "num_hidden_layers", "num_layers", "n_layer")
    heads = _get(cfg, path, "num_attention_heads", "num_heads", "n_head")
    kv_heads = _get(cfg, path, "num_key_value_heads", "num_kv_heads", default=heads)
    if cfg.get("multi_query") is True:
        kv_heads = 1
    vocab = _get(cfg, path, "vocab_size")
    inter = _get(cfg, path, "intermediate_size", "d_ff", "n_inner", "ffn_dim", default=4 * hidden)
    head_dim = _get(cfg, path, "head_dim", "d_kv", default=hidden // heads)
    is_enc_dec = bool(cfg.get("is_encoder_decoder"))
    decoder_layers = _get(cfg, path, "num_decoder_layers", default=layers) if is_enc_dec else 0
    archs = " ".join(cfg.get("architectures") or []).lower()
    kind: Kind = (
        "encoder-decoder"
        if is_enc_dec
        else (
            "encoder"
            if any(w in archs for w in ("bert", "encoder", "forsequenceclassification"))
            and "causallm" not in archs
            else "decoder"
        )
    )
    mtype = str(cfg.get("model_type") or "")
    family = _FAMILIES.get(mtype, {})
    act = str(
        cfg.get("hidden_act") or cfg.get("activation_function") or family.get("activation", "")
    )
    if not act:
        act = "silu" if any(w in archs for w in ("llama", "mistral", "qwen")) else "gelu"
    act = {"swiglu": "silu", "gelu_pytorch_tanh": "gelu", "gelu_fast": "gelu"}.get(act, act)
    gated = act == "silu"
    dropout = any(
        float(cfg.get(k) or 0) > 0
        for k in ("resid_pdrop", "hidden_dropout_prob", "dropout_rate", "hidden_dropout")
    ) or (bool(family.get("dropout")) and not any(k in cfg for k in ("resid_pdrop",)))
    tied = bool(cfg.get("tie_word_embeddings", True))
    attn = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2
    mlp = hidden * inter * (3 if gated else 2)
    per_layer = attn + mlp + 4 * hidden
    total = layers * per_layer + decoder_layers * (per_layer + attn)
    total += vocab * hidden * (1 if tied else 2)
    return ModelSpec(
        name=str(cfg.get("_name_or_path") or cfg.get("model_type") or Path(path).parent.name),
        params=total,
        layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=kv_heads,
        vocab=vocab,
        intermediate=inter,
        kind=kind,
        tied_embeddings=tied,
        head_dim=head_dim,
        decoder_layers=decoder_layers,
        norm=family.get("norm", "rms"),
        activation=act,
        dropout=dropout,
        fused_qkv=bool(family.get("fused_qkv", False)),
    )
