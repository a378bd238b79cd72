"""Bulk loading through COPY, in bounded chunks, with primary-key duplicates skipped.

Each chunk is copied into a session temp table shaped like the target and then
inserted with ``on conflict do nothing``, so loading the same rows twice adds nothing.
The caller owns the transaction: a file's chunks and its ledger row commit together.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

DEFAULT_CHUNK_ROWS = 200_000
# Binary COPY: signature, flags, header extension length; a tuple count of -1 ends the data.
BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
BINARY_TRAILER = (-1).to_bytes(2, "big", signed=True)
PG_EPOCH_UNIX_US = 946_684_800_000_000  # 2000-01-01 00:00 UTC, PostgreSQL's timestamp origin


def _staging_name(table: str) -> str:
    return "_load_" + table.replace(".", "_")


def _as_copy_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Render timestamp columns as ISO-8601 UTC text in one vectorized step (strftime is slow)."""
    converted = {}
    for column in frame.columns:
        series = frame[column]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        if pd.api.types.is_datetime64_dtype(series.dtype):
            text = np.datetime_as_string(series.to_numpy(dtype="datetime64[us]"), unit="us")
            converted[column] = np.char.add(text, "Z")
    return frame.assign(**converted) if converted else frame


def copy_frame(
    conn: psycopg.Connection, table: str, frame: pd.DataFrame, *, skip_duplicates: bool = True
) -> int:
    """Load one chunk into ``schema.table``; returns the number of rows actually inserted.

    With ``skip_duplicates=False`` the rows are COPYed straight into the table: for
    writers that know, under a lock and from the ledger, that none of them exist yet.
    """
    if frame.empty:
        return 0
    schema, name = table.split(".")
    staging = sql.Identifier(_staging_name(table))
    target = sql.Identifier(schema, name)
    columns = sql.SQL(", ").join(sql.Identifier(column) for column in frame.columns)
    if not skip_duplicates:
        _copy_rows(conn, target, columns, frame)
        return len(frame)
    conn.execute(
        sql.SQL("create temp table if not exists {} (like {} including defaults) on commit drop").format(
            staging, target
        )
    )
    conn.execute(sql.SQL("truncate {}").format(staging))
    _copy_rows(conn, staging, columns, frame)
    cursor = conn.execute(
        sql.SQL("insert into {} ({}) select {} from {} on conflict do nothing").format(
            target, columns, columns, staging
        )
    )
    return cursor.rowcount


# The PostgreSQL type each pandas kind is written as in binary COPY.
BINARY_TYPES = {"datetime": "timestamptz", "bool": "bool", "int": "int8", "float": "float8", "text": "text"}


def _column_types(conn: psycopg.Connection, table: sql.Composable) -> dict[str, str]:
    query = sql.SQL(
        "select attname, atttypid::regtype::text from pg_attribute"
        " where attrelid = {}::regclass and attnum > 0 and not attisdropped"
    ).format(sql.Literal(table.as_string(conn)))
    aliases = {"timestamp with time zone": "timestamptz", "boolean": "bool", "bigint": "int8",
               "double precision": "float8"}
    return {name: aliases.get(kind, kind) for name, kind in conn.execute(query)}


def _kind(dtype) -> str:
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return "datetime"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    return "text"


def _binary_rows(frame: pd.DataFrame, column_types: dict[str, str]) -> bytes | None:
    """The frame in PostgreSQL's binary COPY format, built as one numpy record array.

    Works when every row has the same byte layout: int64, float64 (no NaN), bool,
    datetime64 and text columns whose values share one byte length (exchange, market,
    symbol in a chunk). Returns None otherwise, and the caller falls back to CSV.
    Column types must match the table's exactly (bigint, float8, boolean, timestamptz, text).
    """
    if any(BINARY_TYPES[_kind(frame[c].dtype)] != column_types.get(c) for c in frame.columns):
        return None
    fields: list[tuple[str, np.ndarray]] = []
    for series in (frame[column] for column in frame.columns):
        dtype = series.dtype
        if _kind(dtype) == "datetime":
            if isinstance(dtype, pd.DatetimeTZDtype):
                series = series.dt.tz_convert("UTC").dt.tz_localize(None)
            micros = series.to_numpy(dtype="datetime64[us]").astype(np.int64) - PG_EPOCH_UNIX_US
            fields.append((">i8", micros))
        elif _kind(dtype) == "bool":
            fields.append(("?", series.to_numpy(dtype=bool)))
        elif _kind(dtype) == "int":
            fields.append((">i8", series.to_numpy(dtype=np.int64)))
        elif _kind(dtype) == "float":
            values = series.to_numpy(dtype=np.float64)
            if np.isnan(values).any():
                return None
            fields.append((">f8", values))
        else:
            values = series.to_numpy(dtype=object)
            if len(values) and (values == values[0]).all():
                # The usual case (exchange, market, symbol): one value, encoded once.
                first = str(values[0]).encode("utf-8")
                encoded = np.full(len(values), first, dtype=f"S{max(1, len(first))}")
            else:
                encoded = np.char.encode(values.astype(str), "utf-8")
            width = encoded.dtype.itemsize
            if width == 0 or np.char.str_len(encoded).min() != width:
                return None
            fields.append((f"S{width}", encoded))
    layout = [("count", ">i2")]
    for index, (kind, _) in enumerate(fields):
        layout += [(f"length{index}", ">i4"), (f"value{index}", kind)]
    records = np.empty(len(frame), dtype=np.dtype(layout))
    records["count"] = len(fields)
    for index, (kind, values) in enumerate(fields):
        records[f"length{index}"] = np.dtype(kind).itemsize
        records[f"value{index}"] = values
    return BINARY_HEADER + records.tobytes() + BINARY_TRAILER


def _copy_rows(conn: psycopg.Connection, table: sql.Composable, columns: sql.Composable, frame: pd.DataFrame) -> None:
    payload = _binary_rows(frame, _column_types(conn, table))
    if payload is not None:
        statement = sql.SQL("copy {} ({}) from stdin (format binary)").format(table, columns)
    else:
        buffer = io.StringIO()
        _as_copy_text(frame).to_csv(buffer, header=False, index=False)
        payload = buffer.getvalue()
        statement = sql.SQL("copy {} ({}) from stdin (format csv)").format(table, columns)
    with conn.cursor().copy(statement) as copy:
        copy.write(payload)


def copy_frames(conn: psycopg.Connection, table: str, frames: Iterable[pd.DataFrame]) -> int:
    """Load a stream of chunks; memory is bounded by the largest chunk."""
    return sum(copy_frame(conn, table, frame) for frame in frames)


def ensure_week_partitions(conn: psycopg.Connection, tables: Sequence[str], first_ts, last_ts) -> None:
    """Create the weekly partitions that rows between first_ts and last_ts (inclusive) need."""
    for table in tables:
        conn.execute(
            "select raw.ensure_week_partitions(%s::regclass, %s, %s + interval '1 microsecond')",
            (table, first_ts, last_ts),
        )
