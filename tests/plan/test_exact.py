"""Exact mode: one training step of a small transformer traced with fake tensors on the CPU."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")

from mlcost.plan.exact import trace_training_step  # noqa: E402


def test_small_transformer_step() -> None:
    class Block(torch.nn.Module):  # type: ignore[misc]
        """A pre-norm transformer block: attention and a 4x MLP."""

        def __init__(self, d: int = 256, heads: int = 4) -> None:
            super().__init__()
            self.norm1 = torch.nn.LayerNorm(d)
            self.attn = torch.nn.MultiheadAttention(d, heads, batch_first=True)
            self.norm2 = torch.nn.LayerNorm(d)
            self.mlp = torch.nn.Sequential(
                torch.nn.Linear(d, 4 * d), torch.nn.GELU(), torch.nn.Linear(4 * d, d)
            )

        def forward(self, x: Any) -> Any:
            h = self.norm1(x)
            x = x + self.attn(h, h, h, need_weights=False)[0]
            return x + self.mlp(self.norm2(x))

    def build() -> Any:
        return torch.nn.Sequential(Block(), Block())

    est = trace_training_step(build, lambda: (torch.randn(4, 128, 256),))
    params = est.params
    # fp32 weights (4 bytes/param) and AdamW's two fp32 moments are live at the peak; gradients
    # are freed by zero_grad() before the next forward, so they may not be.
    assert est.breakdown["weights"] == 4 * params
    assert est.breakdown.get("gradients", 0) <= 4 * params
    assert est.breakdown["optimizer_states"] >= 8 * params
    assert est.breakdown["activations"] > 0
    assert est.per_gpu_bytes > est.inputs["traced_peak_bytes"]
