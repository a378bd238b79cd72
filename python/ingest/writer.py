"""One input file into the warehouse: its rows, its rejects and its ledger row in ONE transaction.

A crash (even kill -9) before the commit leaves nothing of the file behind, and the
ledger row is the proof that all of it is in: a re-run skips ledgered files and
completes the others. Rows go through COPY one batch at a time, duplicates of rows
already present are skipped and counted, and a row whose exchange id is already held by
a different row is rejected with its line, like a row refused by the parser. Two loaders
of the same file serialize on an advisory lock keyed by the file, so the second one
finds the ledger row and stops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from sniper.db.copy import copy_rows, ensure_week_partitions
from sniper.ingest.lines import Batch, Reject, clean_text

PARTITIONED_TABLES = frozenset(
    {"raw.trades", "raw.agg_trades", "raw.l1_quotes", "raw.depth_bands", "raw.options_chain"}
)
TIME_COLUMN = {"raw.klines": "open_at"}


class ChecksumConflict(Exception):
    """The ledger already holds a file of this name with different contents."""


@dataclass(frozen=True)
class SourceFile:
    """The ledger's identity of a file; fields left None are filled from the rows loaded."""

    source_kind: str
    source: str
    checksum: str
    data_kind: str
    exchange: str | None = None
    market: str | None = None
    symbol: str | None = None


@dataclass
class LoadResult:
    source: str
    already_loaded: bool = False
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    rows_by_table: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    first_ts: datetime | None = None
    last_ts: datetime | None = None

    @property
    def detail(self) -> dict:
        return {
            "rows": self.rows_by_table,
            "duplicates": self.rows_duplicate,
            "rejected": self.rows_rejected,
            "skipped": self.skipped,
        }


def _lock_and_check(conn: psycopg.Connection, source: SourceFile) -> bool:
    """Take the file's lock; True when the ledger already holds this very file."""
    conn.execute(
        "select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{source.source_kind}:{source.source}",)
    )
    row = conn.execute(
        "select checksum from raw.load_ledger where source_kind = %s and source = %s",
        (source.source_kind, source.source),
    ).fetchone()
    if row is None:
        return False
    if row[0] != source.checksum:
        raise ChecksumConflict(
            f"{source.source} was loaded before with checksum {str(row[0])[:12]}..., this file has "
            f"{source.checksum[:12]}...; rename it or remove the old load first"
        )
    return True


# 1970-01-01 was a Thursday: Monday-based week number of an epoch day is (day + 3) // 7.
EPOCH_WEEKDAY_OFFSET = 3
US_PER_DAY = 86_400_000_000


def _week_numbers(times: pd.Series) -> set[int]:
    days = np.floor_divide(times.to_numpy(dtype="datetime64[us]").astype(np.int64), US_PER_DAY)
    return set(np.unique((days + EPOCH_WEEKDAY_OFFSET) // 7).tolist())


def _week_start(week: int) -> datetime:
    return datetime.fromtimestamp(0, tz=timezone.utc) + timedelta(days=week * 7 - EPOCH_WEEKDAY_OFFSET)


class WeekPartitions:
    """Create the weekly partition of every week a batch touches, once per table and week.

    Weeks, not the hull of first and last timestamp: a stray valid-but-distant timestamp
    must cost one extra partition, not every week in between.
    """

    def __init__(self, conn: psycopg.Connection, ready: dict[str, tuple[datetime, datetime]] | None) -> None:
        self.conn = conn
        self.covered: dict[str, set[int]] = {}
        for table, (low, high) in (ready or {}).items():
            weeks = _week_numbers(pd.Series([_naive_utc(low), _naive_utc(high)]))
            self.covered[table] = set(range(min(weeks), max(weeks) + 1))

    def cover(self, table: str, times: pd.Series) -> None:
        if table not in PARTITIONED_TABLES:
            return
        done = self.covered.setdefault(table, set())
        for week in sorted(_week_numbers(times) - done):
            start = _week_start(week)
            ensure_week_partitions(self.conn, [table], start, start + timedelta(days=7) - timedelta(microseconds=1))
            done.add(week)


def _write_rejects(conn: psycopg.Connection, source: SourceFile, rejects: list[Reject]) -> None:
    """COPY rejects row by row: unlike CSV text, this keeps an empty line an empty string, not NULL."""
    statement = "copy raw.load_rejects (source_kind, source, line_number, raw_text, reason) from stdin"
    with conn.cursor().copy(statement) as copy:
        for reject in rejects:
            text = clean_text(reject.raw_text)
            copy.write_row((source.source_kind, source.source, reject.line_number, text, reject.reason))


def load_file(
    conn: psycopg.Connection,
    source: SourceFile,
    batches: Iterable[Batch],
    *,
    on_rows: Callable[[int], None] | None = None,
    partitions_ready: dict[str, tuple[datetime, datetime]] | None = None,
) -> LoadResult:
    """Load every batch and the ledger row in one transaction; skip a file already ledgered.

    ``batches`` is consumed inside the transaction, so an error while reading the file
    (a corrupt archive, a truncated gzip) rolls back everything of it. ``partitions_ready``
    names UTC time ranges whose partitions the caller created beforehand, in its own short
    transaction, so that the file's transaction need not take the partition lock.
    """
    if not conn.autocommit:
        raise ValueError("load_file needs an autocommit connection: it commits each file itself")
    result = LoadResult(source=source.source)
    identity: dict[str, set[str]] = {"exchange": set(), "market": set(), "symbol": set()}
    with conn.transaction():
        if _lock_and_check(conn, source):
            result.already_loaded = True
            return result
        partitions = WeekPartitions(conn, partitions_ready)
        for batch in batches:
            rejects = list(batch.rejects)
            for table, frame in batch.tables.items():
                if frame.empty:
                    continue
                times = frame[TIME_COLUMN.get(table, "ts")]
                first, last = pd.Timestamp(times.min()), pd.Timestamp(times.max())
                partitions.cover(table, times)
                copied = copy_rows(conn, table, frame)
                rejects += [batch.origins[table].reject(c.row, c.reason) for c in copied.conflicts]
                result.rows_by_table[table] = result.rows_by_table.get(table, 0) + copied.inserted
                result.rows_loaded += copied.inserted
                result.rows_duplicate += copied.duplicates
                result.first_ts = first if result.first_ts is None else min(result.first_ts, first)
                result.last_ts = last if result.last_ts is None else max(result.last_ts, last)
                for column, seen in identity.items():
                    if column in frame.columns:
                        seen.update(frame[column].unique().tolist())
                if on_rows:
                    on_rows(copied.inserted)
            if rejects:
                _write_rejects(conn, source, rejects)
                result.rows_rejected += len(rejects)
            for kind, count in batch.skipped.items():
                result.skipped[kind] = result.skipped.get(kind, 0) + count
        conn.execute(
            "insert into raw.load_ledger (source_kind, source, checksum, exchange, market, symbol, data_kind,"
            " first_ts, last_ts, rows_loaded, rows_rejected, detail)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                source.source_kind,
                source.source,
                source.checksum,
                source.exchange or _joined(identity["exchange"]),
                source.market or _joined(identity["market"]),
                source.symbol or _joined(identity["symbol"]),
                source.data_kind,
                _utc(result.first_ts),
                _utc(result.last_ts),
                result.rows_loaded,
                result.rows_rejected,
                Jsonb(result.detail),
            ),
        )
    return result


def _joined(values: set[str]) -> str | None:
    return ",".join(sorted(values)) if values else None


def _naive_utc(value: datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def _utc(value: pd.Timestamp | None) -> datetime | None:
    if value is None:
        return None
    return (value.tz_localize("UTC") if value.tzinfo is None else value).to_pydatetime()
