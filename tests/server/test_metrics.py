"""/metrics: parsed by prometheus_client's parser and scraped by a real Prometheus server."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlcost import open_warehouse
from mlcost.attribution import showback
from mlcost.budgets import statuses
from tests.server.conftest import Demo, bearer, free_port, serving
from tests.server.test_api import MONTH


def families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        out[family.name] = [(s.labels, s.value) for s in family.samples]
    return out


def test_metrics_agree_with_showback_and_budgets(base_url: str, demo: Demo) -> None:
    r = httpx.get(f"{base_url}/metrics", headers=bearer(demo.tokens["all"]))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    found = families(r.text)
    with open_warehouse(demo.settings.warehouse, read_only=True) as wh:
        sb = showback(wh, demo.settings.attribution, MONTH, rebuild=False)
        budgets = {st.budget.name: st.used for st in statuses(wh, demo.settings.budgets)}
    # mlcost_cost_usd covers the latest allocated month: the demo allocates its first month.
    costs = found["mlcost_cost_usd"]
    assert set(costs[0][0]) == {"team", "project", "model", "env", "workload_type"}
    by_team: dict[str, float] = {}
    for labels, value in costs:
        by_team[labels["team"]] = by_team.get(labels["team"], 0.0) + value
    for s in sb.statements:
        assert by_team[s.owner] == pytest.approx(float(s.total), abs=0.01)
    idle = {labels["team"]: v for labels, v in found["mlcost_gpu_idle_cost_usd"]}
    for s in sb.statements:
        if s.gpu_idle:
            assert idle[s.owner] == pytest.approx(float(s.gpu_idle), abs=0.01)
    used = {labels["budget"]: v for labels, v in found["mlcost_budget_utilization_ratio"]}
    assert used == pytest.approx(budgets)
    savings = found["mlcost_insights_open_saving_usd"]
    assert sum(v for _, v in savings) > 0
    # A monthly saving: money spent once (runaway, early stop, anomaly) is not in it.
    assert not {labels["kind"] for labels, _ in savings} & {"runaway", "early_stop", "anomaly"}
    start = found["mlcost_cost_period_start_timestamp_seconds"][0][1]
    assert time.strftime("%Y-%m", time.gmtime(start)) == MONTH


def test_no_auth_serves_metrics_and_api_as_local_admin(demo: Demo) -> None:
    with serving(demo.settings, no_auth=True) as url:
        assert httpx.get(f"{url}/metrics").status_code == 200
        me = httpx.get(f"{url}/api/v1/me").json()
    assert me == {"token_id": "local", "scopes": ["admin"], "teams": None, "admin": True}


def test_a_real_prometheus_scrapes_with_a_bearer_token(
    base_url: str, demo: Demo, tmp_path: Path
) -> None:
    if not shutil.which("prometheus"):
        pytest.skip("prometheus not installed (make tools installs Debian's package)")
    token_file = tmp_path / "token"
    token_file.write_text(demo.tokens["all"])
    target = base_url.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: mlcost\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
        f"    authorization: {{credentials_file: {token_file}}}\n"
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    query = quote('sum(mlcost_cost_usd{team="vision"})')
    try:
        value = None
        for _ in range(300):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/query?query={query}", timeout=2)
                result = r.json()["data"]["result"]
                if result:
                    value = Decimal(result[0]["value"][1])
                    break
            except (httpx.HTTPError, json.JSONDecodeError, KeyError):
                pass
            time.sleep(0.1)
        targets = httpx.get(f"http://127.0.0.1:{port}/api/v1/targets").json()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    health = targets["data"]["activeTargets"][0]
    assert health["health"] == "up", health.get("lastError")
    with open_warehouse(demo.settings.warehouse, read_only=True) as wh:
        sb = showback(wh, demo.settings.attribution, MONTH, rebuild=False)
    vision = next(s for s in sb.statements if s.owner == "vision")
    assert value is not None
    assert float(value) == pytest.approx(float(vision.total), abs=0.01)
