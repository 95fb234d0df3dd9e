"""Spool files and the server client: atomic files, buffer and retry, a dead server loses nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from mlcost.runtime import HttpSink, SpoolSink, spool_dir
from mlcost.runtime._records import money, open_sink
from tests.runtime.servers import free_dead_url, metadata_server


def test_spool_dir_environment_then_xdg_then_home() -> None:
    assert spool_dir({"MLCOST_SPOOL": "/s", "XDG_DATA_HOME": "/x"}) == Path("/s")
    assert spool_dir({"XDG_DATA_HOME": "/x"}) == Path("/x/mlcost/spool")
    assert spool_dir({"HOME": "/h"}) == Path("/h/.local/share/mlcost/spool")


def test_money_is_a_decimal_string_with_its_currency() -> None:
    assert money(Decimal("3600")) == {"amount": "3600", "currency": "USD"}
    assert money(Decimal("0.1234567"), "EUR") == {"amount": "0.123457", "currency": "EUR"}
    assert money(None) is None


def test_spool_files_are_whole_and_ordered_by_name(tmp_path: Path) -> None:
    sink = SpoolSink(tmp_path / "spool", "run-1")
    sink.write([{"n": 1}])
    sink.write([])  # nothing to write: no empty file
    sink.write([{"n": 2}, {"n": 3}])
    files = sorted((tmp_path / "spool").iterdir())
    assert [f.name for f in files] == ["run-1-000001.jsonl", "run-1-000002.jsonl"]
    assert [json.loads(line)["n"] for f in files for line in f.read_text().splitlines()] == [
        1,
        2,
        3,
    ]


def test_server_receives_json_lines(tmp_path: Path) -> None:
    with metadata_server() as (base, state):
        sink = open_sink("r", spool=tmp_path, server=f"{base}/api/records", env={})
        assert isinstance(sink, HttpSink)
        sink.write([{"kind": "run", "n": 1}, {"kind": "gpu_sample", "n": 2}])
        sink.close()
    assert state.requests == [("POST", "/api/records")]
    assert [json.loads(x)["n"] for x in state.posted[0].decode().splitlines()] == [1, 2]
    assert list(tmp_path.iterdir()) == []


def test_dead_server_buffers_retries_and_falls_back_to_the_spool(tmp_path: Path) -> None:
    fallback = SpoolSink(tmp_path, "r")
    sink = HttpSink(free_dead_url(), fallback=fallback, timeout=0.5, retry_seconds=0, max_buffer=3)
    sink.write([{"n": 1}, {"n": 2}])
    sink.write([{"n": 3}, {"n": 4}])  # over max_buffer: the oldest line goes
    assert (sink.pending, sink.dropped, sink.failures) == (3, 1, 2)
    sink.close()
    lines = [json.loads(x)["n"] for f in tmp_path.iterdir() for x in f.read_text().splitlines()]
    assert lines == [2, 3, 4]


def test_buffered_records_reach_the_server_once_it_is_back(tmp_path: Path) -> None:
    with metadata_server() as (base, state):
        sink = HttpSink(free_dead_url(), timeout=0.5, retry_seconds=0)
        sink.write([{"n": 1}])
        assert sink.pending == 1
        sink.url = base  # the server comes up (at its address)
        sink.write([{"n": 2}])
        assert sink.pending == 0
    assert [json.loads(x)["n"] for x in state.posted[0].decode().splitlines()] == [1, 2]
