"""The local Spark context mlcost starts lives while any open warehouse uses it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mlcost import open_warehouse
from tests.conftest import spark_url

pytestmark = pytest.mark.spark


def test_a_request_thread_closing_leaves_the_others_running(spark_dir: Path) -> None:
    # A server's request threads each open the warehouse. The JVM's active session is per
    # thread, so another thread's open used to take the context for its own and stop it on
    # close, failing every query still running on it (HTTP 500 under load).
    url = spark_url(spark_dir)
    with open_warehouse(url):  # the database and its tables
        pass
    errors: list[BaseException] = []

    def request() -> None:
        try:
            with open_warehouse(url, read_only=True) as wh:
                wh.ibis.table("ingests").count().execute()
        except BaseException as e:  # reported by the assertion below
            errors.append(e)

    with open_warehouse(url, read_only=True) as mine:
        others = [threading.Thread(target=request) for _ in range(2)]
        for t in others:
            t.start()
        for t in others:
            t.join()
        assert errors == []
        assert mine.ibis.table("cost_line_items").count().execute() == 0
