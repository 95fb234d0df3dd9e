"""The demo's served LLM and its API bill.

- ``llm-chat-8gpu`` (llm-platform's p4d) serves ``atlas-7b-chat`` with vLLM; its Prometheus
  counters are written as an OpenMetrics backfill file (``telemetry/vllm/``), one scrape
  every ``sample_minutes``, with the engine restarted once (its counters fall to zero), as
  ``promtool tsdb create-blocks-from openmetrics`` reads them.
- The search team calls OpenAI from its project ``proj_search_assist``: the pages of the
  Costs API (grouped by project and line item) and the completions Usage API (grouped by
  project and model), daily buckets, seven to a page (``api-bills/``).

Traffic follows the same diurnal load as the demo's other endpoints (peak 15:00 UTC, lower
at weekends); sizes are drawn from a seeded generator, so the same seed writes the same bytes.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from mlcost.demo._org import START, Org
from mlcost.demo._telemetry import _load

VLLM_HOST = "llm-chat-8gpu"
VLLM_MODEL = "atlas-7b-chat"
VLLM_PORT = 8000
OPENAI_PROJECT = "proj_search_assist"
# OpenAI list prices, USD per 1M tokens (platform.openai.com/docs/pricing, 2026):
# input, cached input, output.
OPENAI_PRICES = {
    "gpt-4o-2024-08-06": (Decimal("2.50"), Decimal("1.25"), Decimal("10.00")),
    "gpt-4o-mini-2024-07-18": (Decimal("0.15"), Decimal("0.075"), Decimal("0.60")),
}
PAGE_DAYS = 7  # the APIs' default page of daily buckets


def write_vllm(org: Org, path: Path, seed: int, minutes: int) -> int:
    """The vLLM counters of the served model; returns the number of scrapes written."""
    host = next(h for h in org.hosts if h.name == VLLM_HOST)
    rng = random.Random(f"mlcost-demo/{seed}/vllm")
    hours = host.hours()
    restart = hours[len(hours) * 3 // 5] + 0.4  # one engine restart, between two scrapes
    # Per scrape: cumulative prompt, generation, successes (stop, length), prefill, decode.
    series: list[tuple[int, list[float]]] = []
    totals = [0.0] * 6
    restarted = False
    step = minutes / 60
    for h in hours:
        for k in range(60 // minutes):
            t = h + k * step
            # A scrape at t shows what was served in (t - step, t]; none at the first one.
            share = 0.0 if t == hours[0] else 1.0
            if not restarted and t >= restart:
                totals = [0.0] * 6  # the new process counts from zero, from its start
                share = (t - restart) / step
                restarted = True
            requests = int(rng.gauss(1.8, 0.15) * _load(t) * minutes * 60 * share)
            prompt = sum(rng.randint(200, 1600) for _ in range(requests))
            generated = sum(rng.randint(40, 460) for _ in range(requests))
            length = sum(1 for _ in range(requests) if rng.random() < 0.08)
            totals[0] += prompt
            totals[1] += generated
            totals[2] += requests - length
            totals[3] += length
            totals[4] += prompt / 24_000 + 0.012 * requests  # prefill: compute-bound
            totals[5] += generated * 0.021  # decode: ~48 tokens/s per sequence
            stamp = int((START + timedelta(hours=t)).timestamp())
            series.append((stamp, list(totals)))
    labels = f'instance="{VLLM_HOST}:{VLLM_PORT}",job="vllm",model_name="{VLLM_MODEL}"'
    lines: list[str] = []
    for family, i in (("vllm:prompt_tokens", 0), ("vllm:generation_tokens", 1)):
        lines.append(f"# TYPE {family} counter")
        lines += [f"{family}_total{{{labels}}} {v[i]:.0f} {s}" for s, v in series]
    lines.append("# TYPE vllm:request_success counter")
    for reason, i in (("stop", 2), ("length", 3)):
        lines += [
            f'vllm:request_success_total{{{labels},finished_reason="{reason}"}} {v[i]:.0f} {s}'
            for s, v in series
        ]
    for family, i in (
        ("vllm:request_prefill_time_seconds", 4),
        ("vllm:request_decode_time_seconds", 5),
    ):
        lines.append(f"# TYPE {family} histogram")
        for s, v in series:
            done = v[2] + v[3]
            lines.append(f'{family}_bucket{{{labels},le="+Inf"}} {done:.0f} {s}')
            lines.append(f"{family}_count{{{labels}}} {done:.0f} {s}")
            lines.append(f"{family}_sum{{{labels}}} {v[i]:.3f} {s}")
    path.write_text("\n".join(lines) + "\n# EOF\n", encoding="utf-8")
    return len(series)


def write_openai(org: Org, folder: Path, seed: int) -> dict[str, int]:
    """Search's OpenAI cost and usage pages; returns results written per file."""
    rng = random.Random(f"mlcost-demo/{seed}/openai")
    days = org.days
    costs: list[dict[str, object]] = []
    usage: list[dict[str, object]] = []
    counts = {"openai-costs.json": 0, "openai-usage-completions.json": 0}
    for d in range(days):
        start = START + timedelta(days=d)
        bounds = {
            "object": "bucket",
            "start_time": int(start.timestamp()),
            "end_time": int((start + timedelta(days=1)).timestamp()),
        }
        weekday = 0.45 if start.weekday() >= 5 else 1.0
        cost_results: list[dict[str, object]] = []
        usage_results: list[dict[str, object]] = []
        for model, (p_in, p_cached, p_out) in OPENAI_PRICES.items():
            scale = 9.0 if "mini" in model else 1.0  # the small model takes most of the traffic
            requests = int(rng.uniform(900, 1300) * weekday * scale)
            tokens_in = requests * rng.randint(1100, 1500)
            cached = int(tokens_in * rng.uniform(0.15, 0.35))
            tokens_out = requests * rng.randint(180, 260)
            usage_results.append(
                {
                    "object": "organization.usage.completions.result",
                    "input_tokens": tokens_in,
                    "output_tokens": tokens_out,
                    "input_cached_tokens": cached,
                    "input_audio_tokens": 0,
                    "output_audio_tokens": 0,
                    "num_model_requests": requests,
                    "project_id": OPENAI_PROJECT,
                    "user_id": None,
                    "api_key_id": None,
                    "model": model,
                    "batch": None,
                }
            )
            for kind, n, price in (
                ("input", tokens_in - cached, p_in),
                ("cached input", cached, p_cached),
                ("output", tokens_out, p_out),
            ):
                amount = (Decimal(n) * price / 1_000_000).quantize(Decimal("0.000001"))
                cost_results.append(
                    {
                        "object": "organization.costs.result",
                        "amount": {"value": float(amount), "currency": "usd"},
                        "line_item": f"{model}, {kind}",
                        "project_id": OPENAI_PROJECT,
                    }
                )
        costs.append({**bounds, "results": cost_results})
        usage.append({**bounds, "results": usage_results})
        counts["openai-costs.json"] += len(cost_results)
        counts["openai-usage-completions.json"] += len(usage_results)
    folder.mkdir(parents=True, exist_ok=True)
    for name, buckets in (("openai-costs.json", costs), ("openai-usage-completions.json", usage)):
        pages = [
            {
                "object": "page",
                "data": buckets[i : i + PAGE_DAYS],
                "has_more": i + PAGE_DAYS < len(buckets),
                "next_page": f"page_{i // PAGE_DAYS + 1}" if i + PAGE_DAYS < len(buckets) else None,
            }
            for i in range(0, len(buckets), PAGE_DAYS)
        ]
        (folder / name).write_text(json.dumps(pages, indent=1) + "\n", encoding="utf-8")
    return counts
