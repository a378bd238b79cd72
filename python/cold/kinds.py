"""The raw tables whose weeks go cold, and how their columns travel as Arrow types.

Only the tick tables keyed by instrument (exchange, market, symbol) go cold: they are the
volume (a real BTCUSDT perpetual week is ~28M trades and ~56M bookTicker rows). The options
chain stays in PostgreSQL: it is keyed by underlying, not instrument, every instrument of
that underlying reads it, and it is small (54 contracts an hour: ~9,000 rows a week).
Columns are read from the catalog, not listed here, so a change of the raw schema (types,
an instrument dictionary) changes the files with it; a type without an exact Arrow twin is
refused rather than rounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import psycopg
import pyarrow as pa

from sniper.errors import UserError

COLD_KINDS: tuple[str, ...] = ("trades", "agg_trades", "l1_quotes", "depth_bands")
TIME_COLUMN = "ts"
INSTRUMENT_COLUMNS = ("exchange", "market", "symbol")
WEEK = timedelta(days=7)
NUMERIC_TYPE = re.compile(r"^numeric\((\d+),(\d+)\)$")
# PostgreSQL type (format_type) -> Arrow type; every one round-trips exactly.
ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "smallint": pa.int16(),
    "double precision": pa.float64(),
    "real": pa.float32(),
    "boolean": pa.bool_(),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str
    nullable: bool

    @property
    def arrow_type(self) -> pa.DataType:
        if self.pg_type in ARROW_TYPES:
            return ARROW_TYPES[self.pg_type]
        match = NUMERIC_TYPE.match(self.pg_type.replace(" ", ""))
        if match:
            return pa.decimal128(int(match.group(1)), int(match.group(2)))
        raise UserError(f"column {self.name} of type {self.pg_type} has no exact Parquet type: it cannot go cold")


@dataclass(frozen=True)
class RawKind:
    """One raw table as the cold tier sees it: its columns (catalog order) and primary key."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    @property
    def table(self) -> str:
        return f"raw.{self.name}"

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])

    def partition(self, week: date) -> str:
        """The week partition's name, as raw.ensure_week_partitions gives it (migration 0001).

        >>> RawKind("trades", (), ()).partition(date(2024, 6, 3))
        'trades_w20240603'
        """
        return f"{self.name}_w{week:%Y%m%d}"


def raw_kind(conn: psycopg.Connection, name: str) -> RawKind:
    if name not in COLD_KINDS:
        raise UserError(f"unknown cold kind {name!r}; valid: {', '.join(COLD_KINDS)}")
    columns = tuple(
        Column(column, pg_type, not not_null)
        for column, pg_type, not_null in conn.execute(
            "select attname, format_type(atttypid, atttypmod), attnotnull from pg_attribute"
            " where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum",
            (f"raw.{name}",),
        )
    )
    key = tuple(
        row[0]
        for row in conn.execute(
            "select a.attname from pg_index as i"
            " cross join lateral unnest(i.indkey) with ordinality as k (attnum, position)"
            " inner join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = k.attnum"
            " where i.indrelid = %s::regclass and i.indisprimary order by k.position",
            (f"raw.{name}",),
        )
    )
    return RawKind(name, columns, key)


def week_start(day: date) -> date:
    """The Monday of a day's week (the raw partitions' week).

    >>> week_start(date(2024, 6, 9)), week_start(date(2024, 6, 10))
    (datetime.date(2024, 6, 3), datetime.date(2024, 6, 10))
    """
    return day - timedelta(days=day.weekday())


def week_bounds(week: date) -> tuple[datetime, datetime]:
    """[Monday 00:00 UTC, next Monday 00:00 UTC)."""
    start = datetime.combine(week, time(), tzinfo=timezone.utc)
    return start, start + WEEK


def weeks_overlapping(start: date, end: date) -> list[date]:
    """The Mondays of the weeks that [start, end) touches.

    >>> weeks_overlapping(date(2024, 6, 2), date(2024, 6, 11))
    [datetime.date(2024, 5, 27), datetime.date(2024, 6, 3), datetime.date(2024, 6, 10)]
    """
    weeks, week = [], week_start(start)
    while week < end:
        weeks.append(week)
        week += WEEK
    return weeks
