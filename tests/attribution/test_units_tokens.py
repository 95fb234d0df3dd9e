"""Self-hosted cost per 1M input and output tokens from served_tokens and allocated_costs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mlcost import Warehouse
from mlcost.attribution import allocate, month_window
from mlcost.attribution.serving import BY_TIME, BY_TOKENS, endpoint_costs, token_costs
from mlcost.attribution.unit_costs import unit_costs
from mlcost.config import AttributionConfig
from tests.attribution.conftest import MONTH, hour, line, put, sample, workload


def tokens(
    endpoint: str,
    at: float,
    model: str,
    tenant: str | None,
    i: int,
    o: int,
    requests: int,
    prefill: float | None = None,
    decode: float | None = None,
) -> dict[str, Any]:
    return {
        "ts": hour(at),
        "source": "test",
        "endpoint": endpoint,
        "model": model,
        "tenant": tenant,
        "input_tokens": i,
        "output_tokens": o,
        "requests": requests,
        "prefill_seconds": prefill,
        "decode_seconds": decode,
    }


@pytest.fixture
def served(wh: Warehouse) -> Warehouse:
    # Host "vllm-a" (1 GPU, 10.00 an hour, 4 hours = 40.00) serves model "llama" at 25%
    # utilization: 10.00 used, 30.00 idle; no engine timings, two tenants.
    # Host "tgi-b" (1 GPU, 6.00 an hour, 2 hours = 12.00) serves "mistral" with prefill and
    # decode seconds; a training job shares the bill of neither.
    # A training box "trainer" (8.00) must not reach any endpoint.
    put(
        wh,
        "cost_line_items",
        [line("10.00", resource="vllm-a", gpus=1, start=h) for h in range(4)]
        + [line("6.00", resource="tgi-b", gpus=1, start=h) for h in range(2)]
        + [line("8.00", resource="trainer", gpus=1, start=0)],
    )
    put(
        wh,
        "workloads",
        [
            workload("opencost:vllm-a", "vllm-a", 0, 4, 1, kind="inference"),
            workload("opencost:tgi-b", "tgi-b", 0, 2, 1, kind="inference"),
            workload("tracker:t1", "trainer", 0, 1, 1, kind="training", experiment="e"),
        ],
    )
    put(
        wh,
        "gpu_samples",
        [sample("vllm-a", h, 0.25) for h in range(4)] + [sample("tgi-b", h, 0.5) for h in range(2)],
    )
    put(
        wh,
        "served_tokens",
        [
            tokens("vllm-a", 0, "llama", "acme", 600_000, 200_000, 1_000),
            tokens("vllm-a", 1, "llama", "acme", 400_000, 100_000, 500),
            tokens("vllm-a", 2, "llama", "globex", 500_000, 200_000, 500),
            tokens("tgi-b", 0, "mistral", None, 300_000, 100_000, 400, 30.0, 90.0),
            tokens("tgi-b", 1, "mistral", None, 100_000, 100_000, 100, 10.0, 70.0),
        ],
    )
    allocate(wh, AttributionConfig(), *month_window(MONTH))
    return wh


def test_endpoint_cost_includes_its_idle_share_and_utilization(served: Warehouse) -> None:
    got = {r["endpoint"]: r for r in endpoint_costs(served).to_pyarrow().to_pylist()}
    assert float(got["vllm-a"]["cost"]) == pytest.approx(40.0)
    assert got["vllm-a"]["utilization"] == pytest.approx(0.25)
    assert float(got["tgi-b"]["cost"]) == pytest.approx(12.0)


def test_a_host_no_workload_claims_is_priced_whole_whatever_its_guessed_type(
    served: Warehouse,
) -> None:
    # "llm-chat" (1 GPU, 5.00 an hour, 2 hours) has no workload record and no serving hint in
    # its name, so showback guesses "training" for it; the tokens served on it still carry
    # its whole bill (only a real training workload's share is left out).
    put(
        served,
        "cost_line_items",
        [line("5.00", resource="llm-chat", gpus=1, start=h) for h in (0, 1)],
    )
    put(served, "served_tokens", [tokens("llm-chat", 0, "chat", None, 1_000, 1_000, 10)])
    allocate(served, AttributionConfig(), *month_window(MONTH))
    got = {r["endpoint"]: r for r in endpoint_costs(served).to_pyarrow().to_pylist()}
    assert float(got["llm-chat"]["cost"]) == pytest.approx(10.0)


def test_by_token_counts_without_timings(served: Warehouse) -> None:
    # llama: 40.00 over 1.5M input + 0.5M output = 2M tokens -> 20.00 per 1M, input or output.
    row = next(
        r
        for r in token_costs(served, by=("model",)).to_pyarrow().to_pylist()
        if r["model"] == "llama"
    )
    assert row["split_rule"] == BY_TOKENS
    assert row["usd_per_1m_input"] == pytest.approx(40.0 / 2e6 * 1e6)
    assert row["usd_per_1m_output"] == pytest.approx(20.0)
    assert row["input_cost"] == pytest.approx(40.0 * 1.5 / 2.0)
    assert row["usd_per_1k_predictions"] == pytest.approx(40.0 / 2000 * 1000)
    assert row["utilization"] == pytest.approx(0.25)


def test_by_engine_time_where_reported(served: Warehouse) -> None:
    # mistral: 12.00 over 40 s prefill + 160 s decode: input pays 12 x 40/200 = 2.40 for 400k
    # input tokens (6.00 per 1M); output 9.60 for 200k output tokens (48.00 per 1M).
    row = next(
        r
        for r in token_costs(served, by=("model",)).to_pyarrow().to_pylist()
        if r["model"] == "mistral"
    )
    assert row["split_rule"] == BY_TIME
    assert row["usd_per_1m_input"] == pytest.approx(6.0)
    assert row["usd_per_1m_output"] == pytest.approx(48.0)


def test_tenants_sum_to_the_endpoint(served: Warehouse) -> None:
    rows = token_costs(served, by=("endpoint", "tenant")).to_pyarrow().to_pylist()
    vllm = {r["tenant"]: r["cost"] for r in rows if r["endpoint"] == "vllm-a"}
    # acme 1.3M of 2M tokens, globex 0.7M.
    assert vllm["acme"] == pytest.approx(40.0 * 1.3 / 2.0)
    assert vllm["globex"] == pytest.approx(40.0 * 0.7 / 2.0)
    assert sum(vllm.values()) == pytest.approx(40.0)


def test_engine_counters_beside_a_gateway_log_count_each_token_once(served: Warehouse) -> None:
    # vLLM's own counters for vllm-a's llama (tenant NULL) describe the same 2M tokens the
    # gateway's per-tenant rows do: the price per token must not halve.
    put(
        served,
        "served_tokens",
        [tokens("vllm-a", h, "llama", None, 500_000, 166_667, 667) for h in range(3)],
    )
    row = next(r for r in token_costs(served).to_pyarrow().to_pylist() if r["model"] == "llama")
    assert row["input_tokens"] + row["output_tokens"] == 2_000_000
    assert row["usd_per_1m_tokens"] == pytest.approx(40.0 / 2.0)


def test_an_unmatched_endpoint_has_no_cost_and_a_note(served: Warehouse) -> None:
    put(served, "served_tokens", [tokens("ghost-host", 0, "phi", None, 1000, 1000, 10)])
    row = next(r for r in token_costs(served).to_pyarrow().to_pylist() if r["model"] == "phi")
    assert row["cost"] is None and row["usd_per_1m_input"] is None
    units = unit_costs(served, "model")
    assert any("ghost-host" in n for n in units.notes)


def test_unit_costs_figures_carry_numerator_and_denominator(served: Warehouse) -> None:
    rows = {r["model"]: r for r in unit_costs(served, "model").as_dict()["rows"]}
    out = rows["mistral"]["usd_per_1m_tokens"]["output"]
    assert out["numerator"] == {"amount": "9.60", "currency": "USD"}
    assert out["denominator"] == 200_000
    assert out["value"] == pytest.approx(48.0)
    assert rows["llama"]["usd_per_1k_predictions"]["denominator"] == 2000


def test_unit_costs_per_tenant_sum_to_the_model(served: Warehouse) -> None:
    import json

    rows = {r["model"]: r for r in unit_costs(served, "model").as_dict()["rows"]}
    json.dumps(rows)  # plain values only
    llama = {t["tenant"]: t for t in rows["llama"]["tenants"]}
    assert set(llama) == {"acme", "globex"}
    total = sum(float(t["cost"]["numerator"]["amount"]) for t in llama.values())
    assert total == pytest.approx(40.0, abs=0.01)
    assert llama["acme"]["usd_per_1m_input"]["denominator"] == 1_000_000


def test_weekly_report_shows_cost_per_1m_tokens(served: Warehouse) -> None:
    from mlcost.report import render_markdown, weekly_report

    r = weekly_report(served, AttributionConfig(), week="2026-W40")
    (line,) = [u for u in r.units if u.name == "cost per 1M tokens (self-hosted)"]
    # 40.00 over 2M tokens on vllm-a and 12.00 over 0.6M on tgi-b: 52.00 / 2.6M tokens.
    assert line.this_week == pytest.approx(Decimal("20.00"))
    assert line.count == 2_600_000
    md = render_markdown(r)
    assert "2,600,000 tokens" in md and "20.00 USD" in md
