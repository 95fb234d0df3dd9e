"""Engine functions that Ibis has no name for, declared once per engine.

Sources reach them through ``warehouse.functions`` (an :class:`EngineFunctions`): DuckDB's
builtins (``error``, ``json_transform``, ``epoch_us``) here, Spark's (``raise_error``,
``from_json``) in :data:`SPARK`. The module-level helpers are DuckDB's, for the sources that
run on DuckDB only. This module deliberately has no ``from __future__ import annotations``:
Ibis reads the signatures at declaration time.
"""

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir


@ibis.udf.scalar.builtin(name="error")
def _error(message: str) -> str:
    """Fail the query with ``message``."""


@ibis.udf.scalar.builtin(name="json_type")
def json_type(value: dt.JSON) -> str:
    """OBJECT, ARRAY, VARCHAR, BIGINT, ... of a JSON value."""


@ibis.udf.scalar.builtin(name="json_transform")
def _json_transform(value: dt.JSON, structure: str) -> dt.Map(dt.string, dt.string):
    """JSON object → MAP(VARCHAR, VARCHAR)."""


@ibis.udf.scalar.builtin(name="rtrim")
def rtrim_chars(value: str, characters: str) -> str:
    """``value`` without any of ``characters`` at its end (DuckDB ``rtrim(s, chars)``)."""


def fail(message: str, dtype: dt.DataType) -> ir.Value:
    """A value of ``dtype`` that, when evaluated, fails the whole query with ``message``."""
    return _error(message).cast(dtype)


def json_object_to_map(value: ir.Value) -> ir.Value:
    """A JSON object as a string→string map (nested values keep their JSON text).

    Anything that is not an object (an array, a number) becomes NULL; malformed JSON fails.
    """
    return _json_transform(value, '"MAP(VARCHAR, VARCHAR)"')


@ibis.udf.scalar.builtin(name="epoch_us")
def _epoch_us(value: dt.Timestamp(timezone="UTC")) -> dt.int64:
    """Microseconds since the epoch of an instant."""


@ibis.udf.scalar.builtin(name="make_timestamp")
def _make_timestamp(micros: dt.int64) -> dt.timestamp:
    """A TIMESTAMP (no zone) from microseconds since the epoch."""


def utc_timestamp(value: ir.Value) -> ir.Value:
    """An instant (TIMESTAMPTZ) as a UTC TIMESTAMP, by arithmetic.

    Casting TIMESTAMPTZ to TIMESTAMP goes through the ICU calendar per value; the epoch
    round trip gives the same UTC wall time several times faster.
    """
    return _make_timestamp(_epoch_us(value))


def _duckdb_json(text: ir.Value) -> ir.Value:
    return text.cast(dt.JSON)


def _duckdb_json_to_map(text: ir.Value) -> ir.Value:
    return json_object_to_map(text.cast(dt.JSON))


@dataclass(frozen=True)
class EngineFunctions:
    """What a source needs from an engine beyond Ibis, given as plain functions.

    ``fail(message, dtype)``: a value that fails the query with ``message`` when evaluated;
    ``json(text)``: checked JSON text (DuckDB's JSON type; Spark keeps text);
    ``json_object_to_map(text)``: a JSON object as a string→string map, NULL for a
    non-object; ``utc_timestamp(instant)``: an instant as its UTC wall time;
    ``rtrim_chars(text, characters)``: ``text`` without any of ``characters`` at its end.
    """

    fail: Callable[[str, dt.DataType], ir.Value]
    json: Callable[[ir.Value], ir.Value]
    json_object_to_map: Callable[[ir.Value], ir.Value]
    utc_timestamp: Callable[[ir.Value], ir.Value]
    rtrim_chars: Callable[[ir.Value, str], ir.Value]


DUCKDB = EngineFunctions(fail, _duckdb_json, _duckdb_json_to_map, utc_timestamp, rtrim_chars)


# -- Spark ----------------------------------------------------------------------------------
@ibis.udf.scalar.builtin(name="raise_error")
def _raise_error(message: str) -> str:
    """Fail the query with ``message`` (Spark 3.1+)."""


@ibis.udf.scalar.builtin(name="from_json")
def _from_json(value: str, schema: str) -> dt.Map(dt.string, dt.string):
    """JSON text → map<string,string>; NULL for malformed JSON or a non-object (Spark)."""


def _spark_fail(message: str, dtype: dt.DataType) -> ir.Value:
    return _raise_error(message).cast(dtype)


def _spark_json(text: ir.Value) -> ir.Value:
    # Spark has no JSON type: JSON columns are text, checked where they are parsed.
    return text.cast(dt.string)


def _spark_json_to_map(text: ir.Value) -> ir.Value:
    return _from_json(text.cast(dt.string), "map<string,string>")


def _spark_utc_timestamp(value: ir.Value) -> ir.Value:
    # The session time zone is UTC (the Ibis backend sets it), so the wall time is UTC.
    return value.cast(dt.timestamp)


def _spark_rtrim_chars(value: ir.Value, characters: str) -> ir.Value:
    # Spark's rtrim takes no character set: a regular expression anchored at the end.
    klass = "".join("\\" + c if c in "\\]^-[" else c for c in characters)
    return value.re_replace(f"[{klass}]+$", "")


SPARK = EngineFunctions(
    _spark_fail, _spark_json, _spark_json_to_map, _spark_utc_timestamp, _spark_rtrim_chars
)
