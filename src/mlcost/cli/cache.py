"""``mlcost cache``: calibrate a semantic-cache threshold (thin: parse, call, render)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mlcost.cli._common import format_option, render_rows, warehouse_from


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


@cache.command(epilog="Example: mlcost cache stats --by model")
@click.option("--month", help="Reports written in this month, YYYY-MM (default: all loaded).")
@click.option(
    "--by",
    type=click.Choice(["cache", "model", "cache-model"]),
    default="cache-model",
    show_default=True,
    help="Group by cache name, by the model of the run it reported under, or both.",
)
@format_option
@click.pass_context
def stats(ctx: click.Context, month: str | None, by: str, fmt: str) -> None:
    """Hits, misses and money saved per cache and model, from the loaded cache_stats.

    Caches write them with cache.report() to the tracker spool; load it with
    `mlcost ingest tracker DIR`. Repeated reports of one cache count what grew since the last.
    """
    from mlcost.attribution import month_window
    from mlcost.attribution.cache_savings import cache_savings

    keys = ("cache", "model") if by == "cache-model" else (by,)
    start, end = month_window(month) if month else (None, None)
    with warehouse_from(ctx, read_only=True, create=False) as wh:
        rows = cache_savings(wh, start, end, by=keys).to_pyarrow().to_pylist()
    for r in rows:
        r["hit_rate"] = None if r["hit_rate"] is None else round(r["hit_rate"], 4)
        r["saved_seconds"] = None if r["saved_seconds"] is None else round(r["saved_seconds"], 3)
    columns = [*keys, "hits", "misses", "hit_rate", "saved_seconds", "saved", "currency"]
    if fmt == "json":
        click.echo(json.dumps([{c: _plain(r[c]) for c in [*columns, "reports"]} for r in rows]))
        return
    render_rows(rows, columns, fmt, title="Cache savings", money_columns=["saved"])
    if fmt == "table":
        if not rows:
            click.echo(
                "No cache statistics loaded: call cache.report() in the serving process and "
                "load the spool with `mlcost ingest tracker DIR`."
            )
        elif any(r["saved"] is None for r in rows):
            click.echo("A blank saving: the cache was given no cost (cost_per_prediction=).")


def _plain(v: Any) -> Any:
    from decimal import Decimal

    return f"{v:f}" if isinstance(v, Decimal) else v
