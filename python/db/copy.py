"""Bulk loading through COPY, in bounded chunks, with duplicates skipped and conflicting ids refused.

Each chunk is copied into a session temp table shaped like the target and then
inserted with ``on conflict do nothing``, so loading the same rows twice adds nothing.
The caller owns the transaction: a file's chunks and its ledger row commit together.

Tables whose rows carry an exchange-assigned id (``NATURAL_IDS``) get one more rule: a
row repeating the id of another row (same exchange, market, symbol) is a true duplicate
when every column is equal, and is skipped; when any column differs (the timestamp
included) it conflicts, is not inserted, and comes back as a ``Conflict`` naming both
versions. The first version wins: the row already stored, else the earlier row of the
chunk. Stored rows are found by "id between the chunk's min and max" through a BRIN index
on the id (migration 0007), which the loader keeps summarized as it writes.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

DEFAULT_CHUNK_ROWS = 200_000
# Binary COPY: signature, flags, header extension length; a tuple count of -1 ends the data.
BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
BINARY_TRAILER = (-1).to_bytes(2, "big", signed=True)
PG_EPOCH_UNIX_US = 946_684_800_000_000  # 2000-01-01 00:00 UTC, PostgreSQL's timestamp origin


# The staging table's extra column: the position of each row in the frame being loaded.
ROW_COLUMN = "_row"


@dataclass(frozen=True)
class NaturalId:
    """A table's exchange-assigned row id: unique within its scope, whatever the timestamp."""

    column: str
    label: str  # how a reason names it
    payload: tuple[str, ...]  # every other column: a repeat differing in any of them conflicts
    brin_index: str  # the BRIN index on ``column`` (migration 0007)
    scope: tuple[str, ...] = ("exchange", "market", "symbol")

    @property
    def key(self) -> list[str]:
        return [*self.scope, self.column]


NATURAL_IDS: dict[str, NaturalId] = {
    "raw.trades": NaturalId(
        "trade_id", "trade id", ("ts", "price", "qty", "quote_qty", "is_buyer_maker"), "raw.trades_trade_id_brin"
    ),
    "raw.agg_trades": NaturalId(
        "agg_trade_id",
        "aggregate trade id",
        ("ts", "price", "qty", "first_trade_id", "last_trade_id", "is_buyer_maker"),
        "raw.agg_trades_agg_trade_id_brin",
    ),
    "raw.l1_quotes": NaturalId(
        "update_id", "update id", ("ts", "bid_price", "bid_qty", "ask_price", "ask_qty"), "raw.l1_quotes_update_id_brin"
    ),
}


@dataclass(frozen=True)
class Conflict:
    """A row refused because another row holds its natural id with different values."""

    row: int  # position of the refused row in the frame given to copy_rows
    reason: str


@dataclass(frozen=True)
class CopyResult:
    inserted: int
    duplicates: int  # rows equal to one already stored or earlier in the chunk: skipped
    conflicts: tuple[Conflict, ...] = ()


class ConflictingRows(Exception):
    """copy_frame met rows whose natural id is taken by different values (use copy_rows to get them)."""


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
            # NaT: an empty field, which CSV COPY reads as NULL.
            converted[column] = np.where(series.isna().to_numpy(), "", np.char.add(text, "Z"))
    return frame.assign(**converted) if converted else frame


def copy_frame(
    conn: psycopg.Connection, table: str, frame: pd.DataFrame, *, skip_duplicates: bool = True
) -> int:
    """Load one chunk into ``schema.table``; returns the number of rows actually inserted.

    With ``skip_duplicates=False`` the rows are COPYed straight into the table: for
    writers that know, under a lock and from the ledger, that none of them exist yet.
    A row conflicting with another of the same natural id raises ConflictingRows; a
    loader that reports such rows instead calls copy_rows.
    """
    if frame.empty:
        return 0
    if not skip_duplicates:
        schema, name = table.split(".")
        columns = sql.SQL(", ").join(sql.Identifier(column) for column in frame.columns)
        _copy_rows(conn, sql.Identifier(schema, name), columns, frame)
        return len(frame)
    result = copy_rows(conn, table, frame)
    if result.conflicts:
        raise ConflictingRows(f"{len(result.conflicts)} rows of {table} conflict: {result.conflicts[0].reason}")
    return result.inserted


def copy_rows(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> CopyResult:
    """Load one chunk, skipping rows already present; rows conflicting on a natural id are not inserted."""
    if frame.empty:
        return CopyResult(0, 0)
    natural = NATURAL_IDS.get(table)
    if natural is None:
        inserted = _insert_through_staging(conn, table, frame)
        return CopyResult(inserted, len(frame) - inserted)
    return _insert_checking_ids(conn, table, natural, frame)


def _conflicts_within(frame: pd.DataFrame, natural: NaturalId) -> list[Conflict]:
    """Rows repeating the id of an earlier row of the chunk with other values (the earlier row wins)."""
    candidates = np.flatnonzero(frame[natural.column].duplicated(keep=False).to_numpy())
    if not len(candidates):
        return []
    group = frame.iloc[candidates]
    later = group.duplicated(subset=natural.key, keep="first").to_numpy()
    payload = list(natural.payload)
    first = group.groupby(natural.key, sort=False)[payload].transform("first")
    conflicts = []
    for i in np.flatnonzero(later):
        mine, earlier = group[payload].iloc[i].to_dict(), first.iloc[i].to_dict()
        if mine != earlier:
            id_value = group[natural.column].iat[i]
            reason = _conflict_reason(natural, id_value, mine, earlier, "an earlier row", "earlier")
            conflicts.append(Conflict(int(candidates[i]), reason))
    return conflicts


def _insert_checking_ids(conn: psycopg.Connection, table: str, natural: NaturalId, frame: pd.DataFrame) -> CopyResult:
    """Stage the chunk, refuse rows whose id a different row holds, insert the rest (equal rows are skipped).

    A stored row of the id is the first version; only ids not stored yet are judged
    within the chunk, so a repeat equal to the stored row is a duplicate even when an
    earlier row of the chunk conflicted with it.
    """
    schema, name = table.split(".")
    staging = _create_staging(conn, table, with_rows=True)
    staged = frame.assign(**{ROW_COLUMN: np.arange(len(frame), dtype=np.int64)})
    _copy_rows(conn, staging, sql.SQL(", ").join(sql.Identifier(c) for c in staged.columns), staged)
    within = _conflicts_within(frame, natural)
    ids = frame[natural.column]
    low, high = int(ids.min()), int(ids.max())
    against_stored: list[Conflict] = []
    judged: set[int] = set()
    if _ids_stored_in_range(conn, table, natural, frame, low, high):
        watched = [conflict.row for conflict in within]
        against_stored, judged = _judge_by_stored_rows(conn, table, natural, staging, (low, high), watched)
    conflicts = sorted(against_stored + [c for c in within if c.row not in judged], key=lambda c: c.row)
    if conflicts:
        conn.execute(
            sql.SQL("delete from {} where {} = any(%s::bigint[])").format(staging, sql.Identifier(ROW_COLUMN)),
            ([conflict.row for conflict in conflicts],),
        )
    columns = sql.SQL(", ").join(sql.Identifier(column) for column in frame.columns)
    inserted = conn.execute(
        sql.SQL("insert into {} ({}) select {} from {} on conflict do nothing").format(
            sql.Identifier(schema, name), columns, columns, staging
        )
    ).rowcount
    if inserted:
        _summarize_id_index(conn, natural, frame["ts"])
    return CopyResult(inserted, len(frame) - inserted - len(conflicts), tuple(conflicts))


def _stored_in_range(table: str, natural: NaturalId) -> sql.Composable:
    """The stored rows with an id in [%s, %s], read through the BRIN index (raw.rows_with_id_between, migration 0007).

    By id range only: the primary key leads with (symbol, ts) and would read all of a
    symbol's rows. Other symbols' rows in the range are filtered out by the caller.
    """
    schema, name = table.split(".")
    return sql.SQL("raw.rows_with_id_between(null::{}, {}, %s, %s)").format(
        sql.Identifier(schema, name), sql.Literal(natural.column)
    )


def _ids_stored_in_range(
    conn: psycopg.Connection, table: str, natural: NaturalId, frame: pd.DataFrame, low: int, high: int
) -> bool:
    """Whether any stored row of the chunk's exchanges, markets and symbols has an id in [low, high].

    The usual answer (ids are new) is no, from a few index pages: the comparison with
    the chunk, which reads all of it, runs only when it is yes.
    """
    scope = sql.SQL(" and ").join(
        sql.SQL("{} = any(%s)").format(sql.Identifier(column)) for column in natural.scope
    )
    query = sql.SQL("select exists (select from {} where {})").format(_stored_in_range(table, natural), scope)
    values = [frame[column].unique().tolist() for column in natural.scope]
    return bool(conn.execute(query, (low, high, *values)).fetchone()[0])


def _judge_by_stored_rows(
    conn: psycopg.Connection,
    table: str,
    natural: NaturalId,
    staging: sql.Identifier,
    id_range: tuple[int, int],
    watched: list[int],
) -> tuple[list[Conflict], set[int]]:
    """Staged rows whose id is stored with other values only (conflicts), and which watched rows have a stored id.

    One pass over the pairs (staged row, stored row of the same id): a window flags the
    staged rows that have an equal stored version (true duplicates, skipped by the insert).
    """
    key, payload = natural.key, list(natural.payload)

    def listed(alias: str, names: list[str]) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(alias, column) for column in names)

    query = sql.SQL(
        "with stored as materialized (select {key}, {payload} from {stored_in_range})"
        " select * from (select s.{row}, s.{id}, {mine}, {theirs},"
        " bool_or(({mine}) = ({theirs})) over (partition by s.{row}) as has_equal"
        " from {staging} as s inner join stored as t using ({key})) as pairs"
        " where not has_equal or {row} = any(%s::bigint[]) order by 1"
    ).format(
        key=sql.SQL(", ").join(map(sql.Identifier, key)),
        payload=sql.SQL(", ").join(map(sql.Identifier, payload)),
        stored_in_range=_stored_in_range(table, natural),
        id=sql.Identifier(natural.column),
        row=sql.Identifier(ROW_COLUMN),
        mine=listed("s", payload),
        theirs=listed("t", payload),
        staging=staging,
    )
    conflicts: dict[int, Conflict] = {}
    judged: set[int] = set()
    for row, id_value, *values, has_equal in conn.execute(query, (*id_range, watched)):
        judged.add(row)
        if has_equal or row in conflicts:  # an id stored twice (before ids were checked): name one version
            continue
        mine, stored = dict(zip(payload, values[: len(payload)])), dict(zip(payload, values[len(payload) :]))
        conflicts[row] = Conflict(row, _conflict_reason(natural, id_value, mine, stored, "the stored row", "stored"))
    return list(conflicts.values()), judged


def _summarize_id_index(conn: psycopg.Connection, natural: NaturalId, times: pd.Series) -> None:
    """Summarize the new block ranges of the id's BRIN index in the partitions just written.

    Without it the pages this transaction inserted are unsummarized, and every later
    chunk's lookup would read all of them (quadratic in the file's length).
    """
    first, last = (_utc(value) for value in (times.min(), times.max()))
    conn.execute("select raw.summarize_week_brin(%s::regclass, %s, %s)", (natural.brin_index, first, last))


def _utc(value) -> datetime:
    stamp = pd.Timestamp(value)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()


def _shown(value) -> str:
    """A value as a reason shows it: floats exactly as stored, timestamps in UTC, booleans as SQL prints them."""
    if isinstance(value, (datetime, np.datetime64, pd.Timestamp)):
        return _utc(value).isoformat(sep=" ")
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def _conflict_reason(natural: NaturalId, id_value, mine: dict, other: dict, whose: str, label: str) -> str:
    """E.g. "trade id 123 conflicts with the stored row: price 101.0 (stored 100.5)"."""
    differences = ", ".join(
        f"{column} {_shown(mine[column])} ({label} {_shown(other[column])})"
        for column in natural.payload
        if _shown(mine[column]) != _shown(other[column])
    )
    return f"{natural.label} {_shown(id_value)} conflicts with {whose}: {differences}"


def _create_staging(conn: psycopg.Connection, table: str, *, with_rows: bool) -> sql.Identifier:
    schema, name = table.split(".")
    staging = sql.Identifier(_staging_name(table))
    extra = sql.SQL(", {} bigint").format(sql.Identifier(ROW_COLUMN)) if with_rows else sql.SQL("")
    conn.execute(
        sql.SQL("create temp table if not exists {} (like {} including defaults{}) on commit drop").format(
            staging, sql.Identifier(schema, name), extra
        )
    )
    conn.execute(sql.SQL("truncate {}").format(staging))
    return staging


def _insert_through_staging(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> int:
    schema, name = table.split(".")
    staging = _create_staging(conn, table, with_rows=False)
    columns = sql.SQL(", ").join(sql.Identifier(column) for column in frame.columns)
    _copy_rows(conn, staging, columns, frame)
    cursor = conn.execute(
        sql.SQL("insert into {} ({}) select {} from {} on conflict do nothing").format(
            sql.Identifier(schema, name), columns, columns, staging
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


# More distinct row layouts than this (free text of every length) and CSV is quicker.
MAX_BINARY_LAYOUTS = 512


def _binary_fields(frame: pd.DataFrame) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Per column: its binary kind (numpy dtype, big-endian), its values, and where it is NULL."""
    fields = []
    for series in (frame[column] for column in frame.columns):
        dtype = series.dtype
        null = series.isna().to_numpy(dtype=bool)
        kind = _kind(dtype)
        if kind == "datetime":
            if isinstance(dtype, pd.DatetimeTZDtype):
                series = series.dt.tz_convert("UTC").dt.tz_localize(None)
            micros = series.to_numpy(dtype="datetime64[us]").astype(np.int64) - PG_EPOCH_UNIX_US
            fields.append((">i8", micros, null))
        elif kind == "bool":
            fields.append(("?", series.to_numpy(dtype=bool, na_value=False), null))
        elif kind == "int":
            fields.append((">i8", series.to_numpy(dtype=np.int64, na_value=0), null))
        elif kind == "float":
            fields.append((">f8", series.to_numpy(dtype=np.float64, na_value=np.nan), null))
        else:
            values = series.to_numpy(dtype=object)
            if len(values) and not null.any() and (values == values[0]).all():
                # The usual case (exchange, market, symbol): one value, encoded once.
                first = str(values[0]).encode("utf-8")
                encoded = np.full(len(values), first, dtype=f"S{max(1, len(first))}")
            else:
                encoded = np.char.encode(np.where(null, "", values).astype(str), "utf-8")
            fields.append(("S", encoded, null))
    return fields


def _binary_rows(frame: pd.DataFrame, column_types: dict[str, str]) -> bytes | None:
    """The frame in PostgreSQL's binary COPY format, built with numpy record arrays.

    A binary row is a field count, then each field's byte length (-1: NULL) and bytes. Rows
    sharing one layout (the same byte length of every text value, NULLs in the same columns)
    are encoded together as one record array; the layouts of a frame are few (fold, side,
    regime...). Rows reach the table grouped by layout, in frame order within a layout:
    COPY's order means nothing to these tables (none numbers its rows on insert).
    Returns None when the column types differ from the table's (bigint, float8, boolean,
    timestamptz, text), or the layouts are too many: the caller then uses CSV.
    """
    if any(BINARY_TYPES[_kind(frame[c].dtype)] != column_types.get(c) for c in frame.columns):
        return None
    fields = _binary_fields(frame)
    # Each row's layout: per column, -1 when NULL, else the value's byte length.
    layouts = np.column_stack([
        np.where(null, -1, np.char.str_len(values) if kind == "S" else np.dtype(kind).itemsize)
        for kind, values, null in fields
    ])
    distinct, first_row, layout_of_row = np.unique(layouts, axis=0, return_index=True, return_inverse=True)
    if len(distinct) > MAX_BINARY_LAYOUTS:
        return None
    layout_of_row = layout_of_row.reshape(-1)
    rows_by_layout = np.split(np.argsort(layout_of_row, kind="stable"),
                              np.cumsum(np.bincount(layout_of_row, minlength=len(distinct)))[:-1])
    chunks = [_records(fields, distinct[index], rows_by_layout[index]) for index in np.argsort(first_row)]
    return b"".join([BINARY_HEADER, *chunks, BINARY_TRAILER])


def _records(fields, lengths: np.ndarray, rows: np.ndarray) -> bytes:
    """The binary rows ``rows``, which share the per-column byte ``lengths`` (-1: NULL)."""
    layout = [("count", ">i2")]
    for index, ((kind, _, _), length) in enumerate(zip(fields, lengths, strict=True)):
        layout.append((f"length{index}", ">i4"))
        if length > 0:  # NULL (-1) and the empty string (0) have no bytes
            layout.append((f"value{index}", f"S{length}" if kind == "S" else kind))
    records = np.empty(len(rows), dtype=np.dtype(layout))
    records["count"] = len(fields)
    for index, ((_, values, _), length) in enumerate(zip(fields, lengths, strict=True)):
        records[f"length{index}"] = length
        if length > 0:
            records[f"value{index}"] = values[rows]
    return records.tobytes()


def _copy_rows(conn: psycopg.Connection, table: sql.Composable, columns: sql.Composable, frame: pd.DataFrame) -> None:
    """Binary COPY when the frame's types are the table's, else CSV (where, as in any CSV
    COPY, an empty text value and NULL are the same unquoted empty field: NULL)."""
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
