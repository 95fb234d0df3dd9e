"""``mlcost cache``: calibrate a semantic-cache threshold (thin: parse, call, render)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlcost.cli._common import format_option, render_rows


@click.group()
def cache() -> None:
    """Prediction and semantic caches: pick thresholds, see what they save."""


@cache.command()
@click.argument("pairs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target-precision", type=float, default=0.95, show_default=True)
@click.option(
    "--embedder",
    type=click.Choice(["minilm", "hashing"]),
    default="minilm",
    show_default=True,
    help="minilm needs mlcost[semantic]; hashing needs nothing.",
)
@click.option("--verify", is_flag=True, help="Apply the same_key_terms verifier before a hit.")
@format_option
def calibrate(fmt: str, pairs: Path, target_precision: float, embedder: str, verify: bool) -> None:
    """The cosine threshold that reaches a target precision on your labelled pairs.

    PAIRS: CSV/TSV with header text_a,text_b,label (label 1 = same meaning), or JSON/JSONL.
    """
    from mlcost.cache.calibrate import calibrate_threshold, read_pairs, score_pairs
    from mlcost.cache.semantic import HashingEmbedder, MiniLMEmbedder, same_key_terms

    texts, labels = read_pairs(pairs)
    model = MiniLMEmbedder() if embedder == "minilm" else HashingEmbedder()
    scores = score_pairs(texts, model, verify=same_key_terms if verify else None)
    result = calibrate_threshold(scores, labels, target_precision=target_precision)
    d = result.to_dict() | {"embedder": model.name, "verify": verify}
    if fmt == "json":
        click.echo(json.dumps(d, indent=2))
        return
    render_rows(
        [{"field": k, "value": v} for k, v in d.items()],
        ["field", "value"],
        fmt,
        title=f"Calibrated threshold ({pairs.name})",
    )
    if fmt == "table":
        click.echo(
            f"Use SemanticCache(threshold={result.threshold}, ...): on these pairs "
            f"{result.precision:.1%} of hits are right and {result.recall:.1%} of repeats hit."
        )
