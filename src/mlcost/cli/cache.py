"""``mlcost cache``: calibrate a semantic-cache threshold (thin: parse, call, render)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mlcost.cli._common import format_option, render_rows


@click.group()
def cache() -> None:
    """Prediction and semantic caches: pick thresholds, see what they save."""


@cache.command(
    epilog="Example: mlcost cache calibrate pairs.csv --target-precision 0.95 --embedder hashing"
)
@click.argument("pairs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target-precision", type=float, default=0.95, show_default=True)
@click.option(
    "--embedder",
    type=click.Choice(["minilm", "hashing"]),
    default="minilm",
    show_default=True,
    help="minilm needs mlcost[semantic]; hashing needs nothing.",
)
@click.option(
    "--verifier",
    type=click.Choice(["none", "key-terms", "learned", "logistic"]),
    default="none",
    show_default=True,
    help="Calibrate the threshold together with a verifier: key-terms = the same_key_terms "
    "rule; learned = fit boosted trees (TreeVerifier) on these pairs; logistic = fit a "
    "logistic PairVerifier. Save a fitted one with --save-verifier.",
)
@click.option(
    "--confidence",
    type=float,
    default=0.9,
    show_default=True,
    help="Take a threshold only when the lower confidence bound of its precision reaches "
    "the target, so that it holds on pairs it was not chosen from; 0 = use the measured "
    "precision as it is.",
)
@click.option("--verify", is_flag=True, help="Same as --verifier key-terms.")
@click.option(
    "--save-verifier",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --verifier learned or logistic: write the fitted verifier here (JSON).",
)
@format_option
def calibrate(
    fmt: str,
    pairs: Path,
    target_precision: float,
    embedder: str,
    verifier: str,
    verify: bool,
    confidence: float,
    save_verifier: Path | None,
) -> None:
    """The cosine threshold that reaches a target precision on your labelled pairs.

    PAIRS: CSV/TSV with header text_a,text_b,label (label 1 = same meaning), or JSON/JSONL.
    With --verifier the threshold is chosen with the verifier in the loop, and the plain
    cosine threshold is shown beside it.
    """
    from mlcost.cache.calibrate import (
        calibrate_learned,
        calibrate_threshold,
        calibrate_verified,
        read_pairs,
        score_pairs,
    )
    from mlcost.cache.semantic import HashingEmbedder, MiniLMEmbedder, same_key_terms

    if verify:
        verifier = "key-terms"
    learned = verifier in ("learned", "logistic")
    if save_verifier is not None and not learned:
        raise click.UsageError("--save-verifier needs --verifier learned or logistic")
    sure = confidence or None
    texts, labels = read_pairs(pairs)
    model = MiniLMEmbedder() if embedder == "minilm" else HashingEmbedder()
    scores = score_pairs(texts, model)
    rows: list[dict[str, Any]] = []
    d: dict[str, Any]
    if verifier == "none":
        result = calibrate_threshold(
            scores, labels, target_precision=target_precision, confidence=sure
        )
        d = result.to_dict() | {"embedder": model.name, "verifier": None, "verify": False}
        rows.append(_row("cosine", result.threshold, None, result))
    else:
        if verifier == "key-terms":
            says = [float(same_key_terms(q, c)) for c, q in texts]
            both = calibrate_verified(
                scores, says, labels, target_precision=target_precision, confidence=sure
            )
        else:
            fitted, both = calibrate_learned(
                texts,
                scores,
                labels,
                target_precision=target_precision,
                confidence=sure,
                model="trees" if verifier == "learned" else "logistic",
            )
            if save_verifier is not None:
                fitted.save(save_verifier)
        d = both.to_dict() | {"embedder": model.name, "verifier": verifier, "verify": True}
        if both.cosine is not None:
            rows.append(_row("cosine", both.cosine.threshold, None, both.cosine))
        else:
            no_fit = "no threshold reaches the target"
            rows.append(dict.fromkeys(_COLUMNS, None) | {"scoring": f"cosine: {no_fit}"})
        rows.append(_row(f"cosine + {verifier}", both.threshold, both.cutoff, both))
    if fmt == "json":
        click.echo(json.dumps(d, indent=2))
        return
    at = f"{target_precision:.0%} precision" + (f", {sure:.0%} confidence" if sure else "")
    render_rows(rows, _COLUMNS, fmt, title=f"Calibrated at {at} ({pairs.name})")
    if fmt == "table":
        best = rows[-1]
        use = f"SemanticCache(threshold={best['threshold']}"
        if verifier == "key-terms":
            use += ", verify=same_key_terms"
        elif learned:
            use += f", verify=load_verifier({str(save_verifier or 'FILE')!r})"
        click.echo(
            f"Use {use}, ...): on these pairs {best['precision']} of hits are right and "
            f"{best['recall']} of repeats hit."
        )
        if learned and save_verifier is None:
            click.echo("Add --save-verifier FILE to keep the fitted verifier.")


_COLUMNS = ["scoring", "threshold", "verifier_cutoff", "precision", "recall", "hit_rate"]


def _row(scoring: str, threshold: float, cutoff: float | None, result: Any) -> dict[str, Any]:
    return {
        "scoring": scoring,
        "threshold": threshold,
        "verifier_cutoff": cutoff,
        "precision": f"{result.precision:.1%}",
        "recall": f"{result.recall:.1%}",
        "hit_rate": f"{result.hit_rate:.1%}",
    }
