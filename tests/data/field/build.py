"""Rebuild the Parquet and copied files of this corpus from the text files beside them.

    python tests/data/field/build.py

Tests do not run this: they read the files it wrote (committed). It exists so that every
binary file here can be checked against the text it was made from (see README.md).
"""

from __future__ import annotations

import csv
import gzip
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _parquet(rows: list[dict[str, str]], path: Path) -> None:
    """Every column as a Parquet string column, as an export that writes text does."""
    columns = list(rows[0])
    table = pa.table({c: pa.array([r[c] for r in rows], type=pa.string()) for c in columns})
    pq.write_table(table, path)


def main() -> None:
    focus = HERE / "focus"
    rows = _rows(focus / "aws-focus-1.3.csv")
    # Empty strings where the CSV has empty fields, plus in the JSON columns of two rows.
    empty = [dict(r) for r in rows]
    for r in empty[1:3]:
        r["SkuPriceDetails"] = ""
        r["Tags"] = ""
    _parquet(empty, focus / "aws-focus-1.3-empty-strings.parquet")
    # One malformed Tags value on data row 3.
    bad = [dict(r) for r in rows]
    bad[2]["Tags"] = '{"Environment": "prod", '
    _parquet(bad, focus / "aws-focus-1.3-bad-tags.parquet")
    # The same export downloaded twice into one folder.
    shutil.copyfile(focus / "aws-focus-1.3.csv", focus / "copies" / "aws-focus-1.3.csv")
    shutil.copyfile(focus / "aws-focus-1.3.csv", focus / "copies" / "aws-focus-1.3 (1).csv")
    # And as the provider delivered it, gzipped, beside the copy `gunzip -k` left.
    with (focus / "aws-focus-1.3.csv").open("rb") as src:
        data = src.read()
    with (focus / "copies" / "aws-focus-1.3.csv.gz").open("wb") as out:
        out.write(gzip.compress(data, mtime=0))


if __name__ == "__main__":
    main()
