"""Engine counters → served_tokens: a real Prometheus, OpenMetrics files, LiteLLM's log.

One vLLM server (``gpu-node-1:8000``, one model) serves a list of requests from two teams
over three hours and restarts at 01:30 (its counters fall to zero). The counters are built
from the requests as vLLM counts them; the expected hourly rows are computed from the
requests themselves, and the LiteLLM spend log holds the same requests per team.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlcost import Warehouse
from mlcost.errors import BadValue, InvalidInput
from mlcost.sources import detect_source
from mlcost.sources.linking import unmatched
from mlcost.sources.litellm import ingest_litellm
from mlcost.sources.serving_metrics import counter_increases, ingest_serving_metrics
from tests.sources.promserver import running_prometheus

T0 = datetime(2026, 5, 1, tzinfo=UTC)
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
RESTART = T0 + timedelta(minutes=90, seconds=20)  # between the 01:30 and 01:31 scrapes
SCRAPES = [T0 + timedelta(seconds=60 * k) for k in range(181)]  # 00:00 .. 03:00


def _requests() -> list[dict[str, object]]:
    """Requests every 97 s from 00:00:30, alternating teams, varied sizes; none in the
    20 s between the 01:30 scrape and the restart (those would die with the process)."""
    out = []
    t = T0 + timedelta(seconds=30)
    n = 0
    while t < T0 + timedelta(hours=3):
        if not (T0 + timedelta(minutes=90) < t <= RESTART):
            out.append(
                {
                    "request_id": f"chatcmpl-{n:04d}",
                    "time": t,
                    "team": "search" if n % 3 else "support",
                    "prompt": 200 + (n * 37) % 900,
                    "completion": 50 + (n * 53) % 400,
                    "reason": "stop" if n % 4 else "length",
                    "prefill": 0.02 + (n % 5) * 0.01,
                    "decode": 0.5 + (n % 7) * 0.1,
                }
            )
            n += 1
        t += timedelta(seconds=97)
    return out


REQUESTS = _requests()


def _counter_at(at: datetime, pick: str, reason: str | None = None) -> float:
    """What vLLM's counter shows at a scrape: what it served since it (re)started."""
    began = RESTART if at > RESTART else T0
    total = 0.0
    for r in REQUESTS:
        if began < r["time"] <= at and (reason is None or r["reason"] == reason):  # type: ignore[operator]
            total += 1 if pick == "count" else r[pick]  # type: ignore[operator]
    return total


def _openmetrics() -> str:
    labels = f'instance="gpu-node-1:8000",job="vllm",model_name="{MODEL}"'
    lines = []
    for family, pick in (
        ("vllm:prompt_tokens", "prompt"),
        ("vllm:generation_tokens", "completion"),
    ):
        lines.append(f"# TYPE {family} counter")
        for at in SCRAPES:
            lines.append(f"{family}_total{{{labels}}} {_counter_at(at, pick)} {at.timestamp():.0f}")
    lines.append("# TYPE vllm:request_success counter")
    for reason in ("length", "stop"):
        for at in SCRAPES:
            value = _counter_at(at, "count", reason)
            stamp = f"{at.timestamp():.0f}"
            lines.append(
                f'vllm:request_success_total{{{labels},finished_reason="{reason}"}} {value} {stamp}'
            )
    for family, pick in (
        ("vllm:request_prefill_time_seconds", "prefill"),
        ("vllm:request_decode_time_seconds", "decode"),
    ):
        lines.append(f"# TYPE {family} histogram")
        for at in SCRAPES:
            stamp = f"{at.timestamp():.0f}"
            n = _counter_at(at, "count")
            lines.append(f'{family}_bucket{{{labels},le="+Inf"}} {n} {stamp}')
            lines.append(f"{family}_count{{{labels}}} {n} {stamp}")
            lines.append(f"{family}_sum{{{labels}}} {_counter_at(at, pick):.6f} {stamp}")
    return "\n".join(lines) + "\n# EOF\n"


def _expected() -> dict[datetime, dict[str, float]]:
    """By hand, from the requests: tokens, requests and engine seconds per hour."""
    hours: dict[datetime, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in REQUESTS:
        hour = r["time"].replace(minute=0, second=0, tzinfo=None)  # type: ignore[attr-defined]
        cell = hours[hour]
        cell["input_tokens"] += r["prompt"]  # type: ignore[operator]
        cell["output_tokens"] += r["completion"]  # type: ignore[operator]
        cell["requests"] += 1
        cell["prefill_seconds"] += r["prefill"]  # type: ignore[operator]
        cell["decode_seconds"] += r["decode"]  # type: ignore[operator]
    return hours


def _rows(wh: Warehouse, source: str) -> list[dict[str, object]]:
    t = wh.table("served_tokens")
    t = t.filter(t.source == source).order_by(["ts", "endpoint", "model", "tenant"])
    return t.to_pyarrow().to_pylist()


def _assert_matches_requests(rows: list[dict[str, object]]) -> None:
    expected = _expected()
    assert [r["ts"] for r in rows] == sorted(expected)
    for row in rows:
        want = expected[row["ts"]]  # type: ignore[index]
        assert (row["endpoint"], row["model"], row["tenant"]) == ("gpu-node-1", MODEL, None)
        for field in ("input_tokens", "output_tokens", "requests"):
            assert row[field] == want[field], (row["ts"], field)
        for field in ("prefill_seconds", "decode_seconds"):
            assert row[field] == pytest.approx(want[field], abs=1e-5), (row["ts"], field)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_prometheus(_openmetrics(), tmp_path_factory.mktemp("prom-vllm")) as url:
        yield url


def test_a_counter_reset_counts_the_value_after_it() -> None:
    # 5 → 9 is +4; 9 → 2 is a restart: +2 (served since it); 2 → 7 is +5.
    assert list(counter_increases({0: 5, 60: 9, 120: 2, 180: 7})) == [(60, 4), (120, 2), (180, 5)]


def test_vllm_counters_from_a_real_prometheus(wh: Warehouse, prometheus: str) -> None:
    result = ingest_serving_metrics(
        wh, url=prometheus, start=datetime(2026, 5, 1, 0, 0), end=datetime(2026, 5, 1, 3, 0)
    )
    assert result.tables == {"served_tokens": 3}
    rows = _rows(wh, "vllm")
    _assert_matches_requests(rows)
    # The restart at 01:30 loses nothing: hour 01 holds every request of its hour.
    assert rows[1]["requests"] == sum(1 for r in REQUESTS if r["time"].hour == 1)  # type: ignore[attr-defined]
    assert sum(r["input_tokens"] for r in rows) == sum(r["prompt"] for r in REQUESTS)  # type: ignore[misc]


def test_a_later_load_of_an_hour_replaces_it(wh: Warehouse, prometheus: str) -> None:
    # A load that ends mid-hour, then one over the whole window: the hour is counted once.
    ingest_serving_metrics(
        wh, url=prometheus, start=datetime(2026, 5, 1, 0, 0), end=datetime(2026, 5, 1, 1, 30)
    )
    second = ingest_serving_metrics(
        wh, url=prometheus, start=datetime(2026, 5, 1, 0, 0), end=datetime(2026, 5, 1, 3, 0)
    )
    assert second.rows_replaced == 2
    _assert_matches_requests(_rows(wh, "vllm"))


def test_openmetrics_files_give_the_same_rows(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "vllm.om.txt"
    path.write_text(_openmetrics())
    assert detect_source(path) == "serving-metrics"
    ingest_serving_metrics(wh, [path])
    _assert_matches_requests(_rows(wh, "vllm"))
    # The endpoint is linked like any observed name: with no bill loaded, it is unmatched.
    assert unmatched(wh) == [{"table": "served_tokens", "name": "gpu-node-1", "rows": 3}]


def _spend_log(path: Path) -> Path:
    """The same requests as LiteLLM_SpendLogs rows (CSV export), plus one failed request."""
    fields = [
        "request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens",
        "completion_tokens", "startTime", "endTime", "model", "model_group",
        "custom_llm_provider", "api_base", "user", "team_id", "end_user", "status",
    ]  # fmt: skip
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for r in [*REQUESTS, {**REQUESTS[0], "request_id": "failed-1", "status": "failure"}]:
            w.writerow(
                {
                    "request_id": r["request_id"],
                    "call_type": "acompletion",
                    "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
                    "spend": "0.0",
                    "total_tokens": r["prompt"] + r["completion"],  # type: ignore[operator]
                    "prompt_tokens": r["prompt"],
                    "completion_tokens": r["completion"],
                    "startTime": r["time"].isoformat(),  # type: ignore[attr-defined]
                    "endTime": r["time"].isoformat(),  # type: ignore[attr-defined]
                    "model": f"hosted_vllm/{MODEL}",
                    "model_group": "llama-8b",
                    "custom_llm_provider": "hosted_vllm",
                    "api_base": "http://gpu-node-1:8000/v1",
                    "user": "",
                    "team_id": r["team"],
                    "end_user": "",
                    "status": r.get("status", "success"),
                }
            )
    return path


def test_litellm_tenants_add_up_to_the_engine_totals(wh: Warehouse, tmp_path: Path) -> None:
    counters = tmp_path / "vllm.om.txt"
    counters.write_text(_openmetrics())
    ingest_serving_metrics(wh, [counters])
    log = _spend_log(tmp_path / "spend_logs.csv")
    assert detect_source(log) == "litellm"
    ingest_litellm(wh, [log])
    tenants = _rows(wh, "litellm")
    assert {r["tenant"] for r in tenants} == {"search", "support"}
    engine = {(r["ts"], r["endpoint"], r["model"]): r for r in _rows(wh, "vllm")}
    sums: dict[tuple[object, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in tenants:
        cell = sums[(r["ts"], r["endpoint"], r["model"])]
        for i, field in enumerate(("input_tokens", "output_tokens", "requests")):
            cell[i] += r[field]  # type: ignore[arg-type]
    assert set(sums) == set(engine)
    for key, (tokens_in, tokens_out, requests) in sums.items():
        row = engine[key]
        assert (tokens_in, tokens_out, requests) == (
            row["input_tokens"],
            row["output_tokens"],
            row["requests"],
        )


def test_litellm_json_from_the_api(wh: Warehouse, tmp_path: Path) -> None:
    # /spend/logs answers a JSON list of rows; the tenant may be the user instead of the team.
    rows = [
        {
            "request_id": "a",
            "startTime": "2026-05-01T10:15:00Z",
            "model": "qwen2.5-7b",
            "prompt_tokens": 120,
            "completion_tokens": 30,
            "api_base": "http://tgi-0.serving.svc:8080",
            "user": "alice",
        },
        {
            "request_id": "b",
            "startTime": "2026-05-01T10:45:00Z",
            "model": "qwen2.5-7b",
            "prompt_tokens": 80,
            "completion_tokens": 20,
            "api_base": "http://tgi-0.serving.svc:8080",
            "user": "alice",
        },
    ]
    path = tmp_path / "spend.json"
    path.write_text(json.dumps(rows))
    ingest_litellm(wh, [path], tenant_field="user")
    (row,) = _rows(wh, "litellm")
    assert (row["endpoint"], row["tenant"], row["input_tokens"], row["output_tokens"]) == (
        "tgi-0.serving.svc",
        "alice",
        200,
        50,
    )
    assert row["requests"] == 2 and row["ts"] == datetime(2026, 5, 1, 10)


def test_bad_spend_log_names_row_and_column_and_writes_nothing(
    wh: Warehouse, tmp_path: Path
) -> None:
    log = _spend_log(tmp_path / "spend_logs.csv")
    text = log.read_text().splitlines()
    text[3] = text[3].replace(",http://gpu-node-1:8000/v1,", ",,")  # row 3 lost its api_base
    log.write_text("\n".join(text) + "\n")
    with pytest.raises(BadValue) as err:
        ingest_litellm(wh, [log])
    assert err.value.row == 3 and err.value.column == "api_base"
    assert "--endpoint" in str(err.value)
    assert wh.table("served_tokens").count().execute() == 0


def test_tgi_needs_a_model_name(wh: Warehouse, tmp_path: Path) -> None:
    # TGI labels no model: the error says which series and what to pass.
    t = int(T0.timestamp())
    path = tmp_path / "tgi.prom"
    path.write_text(
        f'tgi_request_success{{instance="tgi-0:80"}} 10 {t}\n'
        f'tgi_request_success{{instance="tgi-0:80"}} 25 {t + 60}\n'
        f'tgi_batch_forward_duration_sum{{instance="tgi-0:80",method="prefill"}} 1.5 {t}\n'
        f'tgi_batch_forward_duration_sum{{instance="tgi-0:80",method="prefill"}} 2.0 {t + 60}\n'
        f'tgi_batch_forward_duration_sum{{instance="tgi-0:80",method="decode"}} 20.0 {t}\n'
        f'tgi_batch_forward_duration_sum{{instance="tgi-0:80",method="decode"}} 31.0 {t + 60}\n'
    )
    with pytest.raises(InvalidInput, match="--model"):
        ingest_serving_metrics(wh, [path], engine="tgi")
    ingest_serving_metrics(wh, [path], engine="tgi", model="mistral-7b")
    (row,) = _rows(wh, "tgi")
    assert (row["endpoint"], row["model"], row["requests"]) == ("tgi-0", "mistral-7b", 15)
    # Batch time by method: prefill +0.5 s, decode +11 s.
    assert (row["prefill_seconds"], row["decode_seconds"]) == (0.5, 11.0)
    # TGI's tokens were not in the file: unknown, not zero.
    assert row["input_tokens"] is None and row["output_tokens"] is None


def test_a_sample_without_timestamp_is_refused(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "scrape.prom"
    path.write_text(f'vllm:prompt_tokens_total{{model_name="{MODEL}",instance="h:1"}} 12\n')
    with pytest.raises(BadValue) as err:
        ingest_serving_metrics(wh, [path])
    assert err.value.row == 1 and err.value.column == "vllm:prompt_tokens_total"


def test_the_cli_loads_counters_and_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from mlcost.cli.main import cli

    counters = tmp_path / "vllm.om.txt"
    counters.write_text(_openmetrics())
    log = _spend_log(tmp_path / "spend_logs.csv")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLCOST_WAREHOUSE", f"duckdb://{tmp_path / 'warehouse.duckdb'}")
    runner = CliRunner()
    r = runner.invoke(cli, ["ingest", "serving-metrics", str(counters), "--engine", "vllm"])
    assert r.exit_code == 0, r.output
    assert "3 served_tokens" in r.output
    r = runner.invoke(cli, ["ingest", "litellm", str(log), "--tenant", "team_id"])
    assert r.exit_code == 0, r.output
    assert "6 served_tokens" in r.output  # 3 hours x 2 teams


def test_cost_per_1m_tokens_from_a_real_prometheus_equals_a_hand_computation(
    wh: Warehouse, prometheus: str, tmp_path: Path
) -> None:
    # gpu-node-1 is billed 12.00 an hour for the three hours its counters cover: 36.00, every
    # row of it reporting engine time, so input pays for prefill and output for decode.
    from mlcost.attribution import allocate, month_window
    from mlcost.attribution.serving import BY_TIME, BY_TOKENS, token_costs
    from mlcost.config import AttributionConfig
    from tests.attribution.conftest import line, put

    ingest_serving_metrics(
        wh, url=prometheus, start=datetime(2026, 5, 1, 0, 0), end=datetime(2026, 5, 1, 3, 0)
    )
    may = datetime(2026, 5, 1)
    put(
        wh,
        "cost_line_items",
        [
            line(
                "12.00",
                resource="gpu-node-1",
                gpus=1,
                BillingPeriodStart=may,
                BillingPeriodEnd=datetime(2026, 6, 1),
                ChargePeriodStart=may + timedelta(hours=h),
                ChargePeriodEnd=may + timedelta(hours=h + 1),
            )
            for h in range(3)
        ],
    )
    allocate(wh, AttributionConfig(), *month_window("2026-05"))
    prefill = sum(r["prefill"] for r in REQUESTS)  # type: ignore[misc]
    decode = sum(r["decode"] for r in REQUESTS)  # type: ignore[misc]
    prompt = sum(r["prompt"] for r in REQUESTS)  # type: ignore[misc]
    completion = sum(r["completion"] for r in REQUESTS)  # type: ignore[misc]
    row = next(r for r in token_costs(wh).to_pyarrow().to_pylist() if r["model"] == MODEL)
    assert row["split_rule"] == BY_TIME
    assert row["usd_per_1m_input"] == pytest.approx(
        36.0 * prefill / (prefill + decode) / prompt * 1e6
    )
    assert row["usd_per_1m_output"] == pytest.approx(
        36.0 * decode / (prefill + decode) / completion * 1e6
    )
    # The gateway's log splits the same traffic by team: each token counted once (by token
    # counts, the log has no engine time), and the teams' costs sum to the endpoint's 36.00.
    ingest_litellm(wh, [_spend_log(tmp_path / "spend_logs.csv")])
    teams = {r["tenant"]: r for r in token_costs(wh, by=("tenant",)).to_pyarrow().to_pylist()}
    assert set(teams) == {"search", "support"}
    assert sum(r["cost"] for r in teams.values()) == pytest.approx(36.0)
    search = [r for r in REQUESTS if r["team"] == "search"]
    tokens = sum(r["prompt"] + r["completion"] for r in search)  # type: ignore[operator]
    assert teams["search"]["cost"] == pytest.approx(36.0 * tokens / (prompt + completion))
    assert teams["search"]["split_rule"] == BY_TOKENS
