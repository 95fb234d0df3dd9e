"""Engine functions that Ibis has no name for, declared once.

DuckDB provides these builtins; a Spark backend would declare its own equivalents
(``raise_error``, ``from_json``). This module deliberately has no
``from __future__ import annotations``: Ibis reads the signatures at declaration time.
"""

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
