"""Canonical GPU names, per-GPU memory when a source omits it, and "did you mean" suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["canonical_gpu", "default_memory_gib", "nearest"]

# Source spelling (upper-cased) -> canonical name. SkyPilot calls the 40 GB A100 plain "A100";
# we name both sizes so that "A100" never hides a factor-two memory difference.
_ALIASES: dict[str, str] = {
    "A100": "A100-40GB",
    "A100-80GB-SXM": "A100-80GB",
    "H100-MEGA": "H100",
    "NVIDIA-H100-80GB-HBM3": "H100",
    "RTX6000": "RTX6000",
    "RTX6000-ADA": "RTX6000-Ada",
    "RTX-6000-ADA": "RTX6000-Ada",
    "RTXPRO6000WS": "RTX-PRO-6000",
    "RTXA6000": "A6000",
    "RTXA5000": "A5000",
}

# Per-GPU memory in GiB for sources that do not state it (vendor datasheets; 2026).
_MEMORY_GIB: dict[str, float] = {
    "A10": 24,
    "A10G": 24,
    "A100-40GB": 40,
    "A100-80GB": 80,
    "A4000": 16,
    "A5000": 24,
    "A6000": 48,
    "B200": 180,
    "B300": 288,
    "GH200": 96,
    "H100": 80,
    "H200": 141,
    "L4": 24,
    "L40": 48,
    "L40S": 48,
    "M4000": 8,
    "M60": 8,
    "MI25": 16,
    "MI300X": 192,
    "P100": 16,
    "P4": 8,
    "P4000": 8,
    "RTX-PRO-6000": 96,
    "RTX3060": 12,
    "RTX3090": 24,
    "RTX4060": 8,
    "RTX4070": 12,
    "RTX4090": 24,
    "RTX5070": 12,
    "RTX5090": 32,
    "RTX5880-Ada": 48,
    "RTX6000": 24,
    "RTX6000-Ada": 48,
    "T4": 16,
    "V100": 16,
    "V100-32GB": 32,
}


def canonical_gpu(raw: str) -> str:
    """The canonical name of a GPU as spelled by a catalog source.

    >>> canonical_gpu("A100"), canonical_gpu("H100-MEGA"), canonical_gpu("l4")
    ('A100-40GB', 'H100', 'L4')
    """
    key = raw.strip().upper()
    if key in _ALIASES:
        return _ALIASES[key]
    for name in _MEMORY_GIB:
        if name.upper() == key:
            return name
    return raw.strip()


def default_memory_gib(gpu: str) -> float | None:
    """Per-GPU memory of a canonical GPU name, or None when unknown."""
    return _MEMORY_GIB.get(gpu)


def nearest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` valid names closest to ``name`` (case-insensitive), best first.

    >>> nearest("p4.24xlarge", ["p4d.24xlarge", "g5.xlarge"])
    ['p4d.24xlarge']
    """
    by_lower: dict[str, str] = {}
    for choice in choices:
        by_lower.setdefault(choice.lower(), choice)
    hits = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.5)
    return [by_lower[h] for h in hits]
