"""Empty answers say why, with numbers; `mlcost insights` on each FOCUS sample, a bill alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlcost.cli.main import main
from mlcost.insights import NEEDS
from tests.conftest import FOCUS_SAMPLES

# The complete FOCUS Cost and Usage samples (not the spec's partial fragments, not the
# ContractCommitment datasets): see FOCUS_SAMPLES / SOURCES.md.
SYNTHETIC = FOCUS_SAMPLES / "synthetic-1.2-1.3"
SAMPLES = [
    FOCUS_SAMPLES / "official-focus-1.0" / "focus_sample_1000.csv",
    *sorted(SYNTHETIC.glob("*_cost_and_usage_*.csv")),
    SYNTHETIC / "consolidated_multi_provider_1_3.csv",
]


def _cli(db: Path, *args: str) -> int:
    return main(["--warehouse", str(db), *args])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "w.duckdb"


def test_the_sample_list_is_complete() -> None:
    # Official 1.0, AWS/Azure/GCP in 1.2 and 1.3, the 1.3 credits file, the consolidated one.
    assert len(SAMPLES) == 9 and all(p.is_file() for p in SAMPLES)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_insights_on_a_bill_alone_exits_0_and_names_what_it_skipped(
    sample: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(db, "ingest", "focus", str(sample)) == 0
    capsys.readouterr()
    assert _cli(db, "insights", "--no-save") == 0
    out = capsys.readouterr().out
    for name in NEEDS:
        assert f"Skipped {name}: needs " in out
    assert "Window: " in out and "the data's own range" in out
    assert _cli(db, "insights", "--no-save", "--format", "json") == 0
    body = json.loads(capsys.readouterr().out)
    assert {s["detector"] for s in body["skipped"]} == set(NEEDS)
    assert {"anomaly", "commitment", "data_transfer", "untagged"} <= set(body["ran"])


def _load(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The official sample: hourly charges from 2024-09-01 to 2024-10-01, no 'team' tag.
    assert _cli(db, "ingest", "focus", str(SAMPLES[0])) == 0
    capsys.readouterr()


def test_spend_outside_the_data_says_what_the_warehouse_holds(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _load(db, capsys)
    assert _cli(db, "spend", "--from", "2026-11-04", "--to", "2026-12-04") == 0
    err = capsys.readouterr().err
    assert (
        "No cost rows between 2026-11-04 and 2026-12-04; "
        "the warehouse holds 2024-09-01 to 2024-10-01." in err
    )


def test_insights_outside_the_data_says_why_in_text_and_json(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _load(db, capsys)
    args = ("insights", "--no-save", "--from", "2026-11-04", "--to", "2026-12-04")
    assert _cli(db, *args) == 0
    got = capsys.readouterr()
    assert "0 findings" in got.out
    assert "No cost rows between 2026-11-04 and 2026-12-04" in got.err
    assert _cli(db, *args, "--format", "json") == 0
    body = json.loads(capsys.readouterr().out)
    assert body["findings"] == [] and body["window"] == {"start": None, "end": None}
    assert body["empty_reason"].startswith("no cost rows between 2026-11-04 and 2026-12-04")


def test_insights_on_an_empty_warehouse_says_load_a_bill(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlcost import open_warehouse

    open_warehouse(f"duckdb://{db}").close()
    assert _cli(db, "insights", "--no-save") == 0
    assert "this warehouse holds no bill; load one with `mlcost ingest focus PATH`" in (
        capsys.readouterr().err
    )


def test_showback_says_no_rows_no_owner_key_or_no_telemetry(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _load(db, capsys)
    assert _cli(db, "showback", "--month", "2026-11") == 0
    assert (
        "No cost rows between 2026-11-01 and 2026-12-01; "
        "the warehouse holds 2024-09-01 to 2024-10-01." in capsys.readouterr().err
    )
    # The month has cost, but no charge carries the owner key.
    assert _cli(db, "showback", "--month", "2024-09") == 0
    assert "No owner key 'team' in this bill: see `mlcost tags audit`." in capsys.readouterr().err
    # Owned by application instead: the GPU rows (Azure ML) then lack only telemetry.
    assert _cli(db, "showback", "--month", "2024-09", "--by", "application") == 0
    assert "load nvidia-smi or DCGM" in capsys.readouterr().err
