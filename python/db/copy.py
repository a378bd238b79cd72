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
        _copy_text(conn, target, columns, frame)
        return len(frame)
    conn.execute(
        sql.SQL("create temp table if not exists {} (like {} including defaults) on commit drop").format(
            staging, target
        )
    )
    conn.execute(sql.SQL("truncate {}").format(staging))
    _copy_text(conn, staging, columns, frame)
    cursor = conn.execute(
        sql.SQL("insert into {} ({}) select {} from {} on conflict do nothing").format(
            target, columns, columns, staging
        )
    )
    return cursor.rowcount


def _copy_text(conn: psycopg.Connection, table: sql.Composable, columns: sql.Composable, frame: pd.DataFrame) -> None:
    buffer = io.StringIO()
    _as_copy_text(frame).to_csv(buffer, header=False, index=False)
    with conn.cursor().copy(sql.SQL("copy {} ({}) from stdin (format csv)").format(table, columns)) as copy:
        copy.write(buffer.getvalue())


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
