"""OpenAI and Anthropic API bills as FOCUS rows: totals, tokens, spend, showback, budgets.

The exports in tests/data/llm-bills/ follow the providers' documented JSON (see its
SOURCES.md); what each test expects is summed from those files here, not typed in.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlcost import Warehouse, open_warehouse
from mlcost.cli.main import cli
from mlcost.errors import BadValue, MissingCurrency
from mlcost.sources import detect_source
from mlcost.sources.anthropic import ingest_anthropic
from mlcost.sources.openai import ingest_openai

DATA = Path(__file__).parent.parent / "data" / "llm-bills"
OPENAI = [DATA / "openai-costs-2026-05.json", DATA / "openai-usage-completions-2026-05.json"]
ANTHROPIC = [
    DATA / "anthropic-cost-report-2026-05.jsonl",
    DATA / "anthropic-usage-messages-2026-05.json",
]
CENT = Decimal("0.01")


def _pages(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    try:
        doc = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError:
        return [json.loads(line, parse_float=Decimal) for line in text.splitlines() if line]
    return doc if isinstance(doc, list) else [doc]


def _results(path: Path) -> list[dict[str, Any]]:
    return [r for page in _pages(path) for b in page["data"] for r in b["results"]]


def _openai_total() -> Decimal:
    return sum((Decimal(str(r["amount"]["value"])) for r in _results(OPENAI[0])), Decimal(0))


def _anthropic_total() -> Decimal:
    # The cost report's amounts are cents, as decimal strings.
    return sum((Decimal(r["amount"]) for r in _results(ANTHROPIC[0])), Decimal(0)) / 100


def _column_sums(wh: Warehouse, provider: str) -> dict[str, Any]:
    t = wh.table("cost_line_items")
    t = t.filter(t.ServiceProviderName == provider)
    row = t.aggregate(
        cost=t.EffectiveCost.sum(),
        billed=t.BilledCost.sum(),
        inputs=t.x_InputTokens.sum(),
        cached=t.x_CachedInputTokens.sum(),
        writes=t.x_CacheWriteTokens.sum(),
        outputs=t.x_OutputTokens.sum(),
        quantity=t.ConsumedQuantity.sum(),
        currencies=t.BillingCurrency.collect(distinct=True),
    )
    return row.to_pyarrow().to_pylist()[0]  # type: ignore[no-any-return]


def test_the_exports_are_recognized() -> None:
    assert [detect_source(p) for p in OPENAI] == ["openai", "openai"]
    assert [detect_source(p) for p in ANTHROPIC] == ["anthropic", "anthropic"]


def test_openai_costs_load_with_the_files_total_and_usage_tokens(wh: Warehouse) -> None:
    result = ingest_openai(wh, OPENAI)
    assert result.effective_cost == {"USD": _openai_total()}
    sums = _column_sums(wh, "OpenAI")
    assert sums["cost"] == sums["billed"] == _openai_total()
    assert sums["currencies"] == ["USD"]
    # Tokens come from the usage export: input there counts cached input too.
    usage = _results(OPENAI[1])
    cached = sum(r["input_cached_tokens"] for r in usage)
    assert sums["cached"] == cached
    assert sums["inputs"] == sum(r["input_tokens"] for r in usage) - cached
    assert sums["outputs"] == sum(r["output_tokens"] for r in usage)
    assert sums["quantity"] == sums["inputs"] + sums["cached"] + sums["outputs"]
    # One row per line item, the model as SKU, the project as sub-account.
    t = wh.table("cost_line_items")
    row = (
        t.filter(t.ChargeDescription == "gpt-4o-2024-08-06, cached input")
        .order_by("ChargePeriodStart")
        .to_pyarrow()
        .to_pylist()[0]
    )
    assert (row["SkuId"], row["SkuMeter"], row["SubAccountId"], row["ConsumedUnit"]) == (
        "gpt-4o-2024-08-06",
        "cached input",
        "proj_search",
        "Tokens",
    )
    assert ingest_openai(wh, OPENAI).already_loaded


def test_anthropic_cents_become_dollars_and_tokens_follow_the_token_type(wh: Warehouse) -> None:
    result = ingest_anthropic(wh, ANTHROPIC)
    assert result.effective_cost == {"USD": _anthropic_total()}
    sums = _column_sums(wh, "Anthropic")
    assert sums["cost"] == _anthropic_total()
    usage = _results(ANTHROPIC[1])
    assert sums["inputs"] == sum(r["uncached_input_tokens"] for r in usage)
    assert sums["cached"] == sum(r["cache_read_input_tokens"] for r in usage)
    assert sums["writes"] == sum(sum(r["cache_creation"].values()) for r in usage)
    assert sums["outputs"] == sum(r["output_tokens"] for r in usage)
    # The default workspace (null workspace_id) keeps its own tokens, not every workspace's.
    t = wh.table("cost_line_items")
    default = t.filter(t.SubAccountId.isnull() & (t.SkuMeter == "output_tokens"))
    want = sum(r["output_tokens"] for r in usage if r["workspace_id"] is None)
    assert default.x_OutputTokens.sum().execute() == want
    # Web search is billed without tokens.
    search = t.filter(t.SkuMeter == "web_search").to_pyarrow().to_pylist()
    assert len(search) == 1 and search[0]["ConsumedQuantity"] is None


def test_a_costs_export_without_usage_loads_without_tokens(wh: Warehouse) -> None:
    result = ingest_openai(wh, OPENAI[:1])
    assert any("no usage export" in w for w in result.warnings)
    assert _column_sums(wh, "OpenAI")["inputs"] is None
    assert result.effective_cost == {"USD": _openai_total()}


def _write_pages(path: Path, pages: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(pages, default=str))
    return path


def test_bad_amount_names_file_page_and_field_and_writes_nothing(
    wh: Warehouse, tmp_path: Path
) -> None:
    pages = json.loads(OPENAI[0].read_text())
    pages[1]["data"][0]["results"][2]["amount"]["value"] = "n/a"
    bad = _write_pages(tmp_path / "costs.json", pages)
    with pytest.raises(BadValue) as err:
        ingest_openai(wh, [bad, OPENAI[1]])
    assert err.value.file == str(bad)
    assert err.value.column == "pages[1].data[0].results[2].amount.value"
    assert "page 2" in str(err.value)
    assert wh.table("cost_line_items").count().execute() == 0


def test_an_amount_without_currency_is_refused(wh: Warehouse, tmp_path: Path) -> None:
    pages = _pages(ANTHROPIC[0])
    del pages[0]["data"][0]["results"][1]["currency"]
    bad = _write_pages(tmp_path / "cost.json", pages)
    with pytest.raises(MissingCurrency) as err:
        ingest_anthropic(wh, [bad])
    assert err.value.column == "pages[0].data[0].results[1].currency"


def test_a_file_that_is_not_pages_is_refused(wh: Warehouse, tmp_path: Path) -> None:
    bad = _write_pages(tmp_path / "costs.json", [{"object": "list", "items": []}])
    with pytest.raises(BadValue, match="no 'data' list"):
        ingest_openai(wh, [bad])


CONFIG = """\
[mlcost]
warehouse = "{warehouse}"

[attribution]
owner = "team"

# OpenAI projects and Anthropic workspaces map to owners as cloud accounts do; the default
# workspace (no workspace id) falls to the billing account's owner.
[attribution.accounts.proj_search]
team = "search"
[attribution.accounts.proj_support]
team = "support"
[attribution.accounts.wrkspc_01ResearchTeam]
team = "research"
[attribution.accounts.anthropic]
team = "platform"

[budgets.search-llm]
scope = {{ owner = "search" }}
amount = 50
currency = "USD"
"""


def _cli(folder: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.chdir(folder)
    r = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_api_bills_appear_in_spend_showback_and_owner_budgets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = tmp_path / "warehouse.duckdb"
    (tmp_path / "mlcost.toml").write_text(CONFIG.format(warehouse=url))
    monkeypatch.chdir(tmp_path)
    for source, files in (("openai", OPENAI), ("anthropic", ANTHROPIC)):
        r = CliRunner().invoke(cli, ["ingest", source, *map(str, files)])
        assert r.exit_code == 0, r.output
    spend = _cli(tmp_path, monkeypatch, "spend", "--by", "ServiceProviderName")
    by_provider = {r["ServiceProviderName"]: Decimal(str(r["EffectiveCost"])) for r in spend}
    assert abs(by_provider["OpenAI"] - _openai_total()) < CENT
    assert abs(by_provider["Anthropic"] - _anthropic_total()) < CENT

    def owned(pred: Any) -> Decimal:
        openai = sum(
            (Decimal(str(r["amount"]["value"])) for r in _results(OPENAI[0]) if pred(r)),
            Decimal(0),
        )
        return openai + sum(
            (Decimal(r["amount"]) / 100 for r in _results(ANTHROPIC[0]) if pred(r)), Decimal(0)
        )

    rows = _cli(tmp_path, monkeypatch, "showback", "--month", "2026-05")
    statements = {r["owner"]: Decimal(str(r["total"])) for r in rows}
    assert abs(statements["search"] - owned(lambda r: r.get("project_id") == "proj_search")) < CENT
    assert (
        abs(statements["support"] - owned(lambda r: r.get("project_id") == "proj_support")) < CENT
    )
    research = owned(lambda r: r.get("workspace_id") == "wrkspc_01ResearchTeam")
    assert abs(statements["research"] - research) < CENT
    default = owned(lambda r: "workspace_id" in r and r["workspace_id"] is None)
    assert abs(statements["platform"] - default) < CENT

    budgets = _cli(tmp_path, monkeypatch, "budgets", "status", "--as-of", "2026-05-31")
    (search,) = budgets
    assert abs(Decimal(str(search["spent"])) - statements["search"]) < CENT


def test_a_newer_export_of_the_month_replaces_the_older(wh: Warehouse, tmp_path: Path) -> None:
    ingest_openai(wh, OPENAI)
    # The month again, a day later: the older rows of that account and month go.
    pages = json.loads(OPENAI[0].read_text())
    pages[0]["data"][0]["results"][0]["amount"]["value"] = 3.25
    newer = _write_pages(tmp_path / "openai-costs-2026-05-b.json", pages)
    result = ingest_openai(wh, [newer, OPENAI[1]])
    assert result.rows_replaced == 19
    want = _openai_total() - Decimal("2.25") + Decimal("3.25")
    assert _column_sums(wh, "OpenAI")["cost"] == want


def test_the_warehouse_file_keeps_the_token_columns(tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    with open_warehouse(url) as wh:
        ingest_anthropic(wh, ANTHROPIC)
    with open_warehouse(url, read_only=True) as wh:
        assert _column_sums(wh, "Anthropic")["cost"] == _anthropic_total()
