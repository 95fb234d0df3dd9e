"""Rows written to Spark tables: every value checked against its column and converted to
Spark's type, the file row and column named when one does not fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from mlcost.errors import WarehouseError


def check_columns(table: str, fields: Mapping[str, Any], names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in fields]
    if unknown:
        raise WarehouseError(
            f"{table} has no column {unknown[0]!r}; its columns: {', '.join(fields)}"
        )


def conformed(
    table: str, fields: Mapping[str, Any], row: Mapping[str, Any], number: int
) -> dict[str, Any]:
    """``row`` with every column of ``table`` (None where absent), each value checked and
    converted to the column's type; row ``number`` (from 1) and the column named if not."""
    check_columns(table, fields, list(row))
    return {
        name: spark_value(table, field, name, row.get(name), number)
        for name, field in fields.items()
    }


def spark_value(
    table: str, field: Any, column: str, value: Any, number: int, *, nullable: bool = False
) -> Any:
    """``value`` as a plain Python value of the Spark column ``field`` (timestamps: naive UTC).

    Raises :class:`WarehouseError` naming the table, the row and the column when it does not
    fit, before anything is written.
    """
    from pyspark.sql import types as T

    where = f"row {number} of the rows for {table}" if number else f"the values for {table}"
    if value is None:
        if field.nullable or nullable:
            return None
        raise WarehouseError(f"{where}: column {column!r} cannot be empty; give it a value.")
    kind = field.dataType
    try:
        if isinstance(kind, T.StringType):
            if isinstance(value, str):
                return str(value)
            if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
                raise TypeError
            return str(value)
        if isinstance(kind, T.BooleanType):
            if not isinstance(value, bool):
                raise TypeError
            return value
        if isinstance(kind, (T.IntegerType, T.LongType, T.ShortType, T.ByteType)):
            if isinstance(value, bool) or int(value) != value:
                raise TypeError
            return int(value)
        if isinstance(kind, (T.DoubleType, T.FloatType)):
            if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
                raise TypeError
            return float(value)
        if isinstance(kind, T.DecimalType):
            if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
                raise TypeError
            exact = Decimal(str(value)).quantize(Decimal(1).scaleb(-kind.scale))
            if len(exact.as_tuple().digits) > kind.precision:
                raise TypeError
            return exact
        if isinstance(kind, (T.TimestampType, T.TimestampNTZType)):
            if isinstance(value, datetime):
                return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
            if isinstance(value, date):
                return datetime.combine(value, datetime.min.time())
            raise TypeError
        if isinstance(kind, T.DateType):
            if isinstance(value, datetime):
                return value.date()
            if not isinstance(value, date):
                raise TypeError
            return value
        if isinstance(kind, T.ArrayType):
            element = T.StructField(column, kind.elementType, True)
            return [spark_value(table, element, column, v, number) for v in value]
        if isinstance(kind, T.MapType):
            pairs = value.items() if isinstance(value, Mapping) else value
            item = T.StructField(column, kind.valueType, True)
            return {str(k): spark_value(table, item, column, v, number) for k, v in pairs}
    except (TypeError, ValueError, ArithmeticError):
        pass
    else:
        return value
    raise WarehouseError(
        f"{where}: {value!r} does not fit column {column!r} ({kind.simpleString()}); "
        "pass a value of that type."
    )


def to_spark(value: Any, kind: Any) -> Any:
    """A plain value (as read back, or as :func:`spark_value` made it) as PySpark takes it for a
    column of ``kind``: maps as dicts, naive UTC datetimes made aware for TIMESTAMP."""
    from pyspark.sql import types as T

    if value is None:
        return None
    if isinstance(kind, T.MapType):
        pairs = value.items() if isinstance(value, Mapping) else value
        return {k: to_spark(v, kind.valueType) for k, v in pairs}
    if isinstance(kind, T.ArrayType):
        return [to_spark(v, kind.elementType) for v in value]
    if isinstance(kind, T.TimestampType):
        return aware(value)
    return value


def partition_value(value: Any) -> str:
    text = value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else str(value)
    return text.replace("\\", "\\\\").replace("'", "\\'")


def aware(value: Any) -> Any:
    """Naive datetimes (UTC wall times) made explicit: PySpark reads a naive one as local."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if isinstance(value, list):
        return [aware(v) for v in value]
    return value
