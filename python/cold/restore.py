"""Cold files back into PostgreSQL: all of a request, or none of it.

Every file of the request is checked first (its manifest agrees with raw.cold_weeks, its
bytes hash to the recorded sha256); a missing or corrupted file stops the restore with one
line before any row is written. Then one transaction copies every file's rows back (through
sniper.db.copy, the loaders' path), checks each file gave exactly its recorded row count,
and marks the files restored in raw.cold_restores; any failure rolls all of it back.

A backfill window restores the cold rows it reads before it materializes (restore_for_window):
its instrument's weeks and the week before them, which holds the look-back of the window's
first features (RAW_LOOKBACK), and every other instrument's trades of the window's weeks,
which the window's data tests read (`candles_5m_reconcile_with_trades` and
`candles_1h_rollup_matches_trades` compare every instrument's candles in the window's days
with its trades, whatever the run's instruments).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg
from psycopg import sql

from sniper.cold.kinds import raw_kind, week_bounds, weeks_overlapping
from sniper.cold.ledger import ColdFile, ledger_rows, record_restored
from sniper.cold.parquet import count_rows, read_batches
from sniper.cold.store import ColdFileError, ColdStore
from sniper.db.copy import copy_frame, ensure_week_partitions
from sniper.instruments import Instrument

# How far before a window its models read raw rows: the rolling CVD (cvd_rolling_buckets,
# at most 2,016 5m buckets: 7 days less 5 minutes), the iceberg look-back, the depth-band and
# gamma snapshot ages (at most 1,440 minutes), the L1 quote age (at most 300 s); bounds of
# python/dbt_vars.py, checked by tests/test_cold_tier.py.
RAW_LOOKBACK = timedelta(days=7)


@dataclass(frozen=True)
class RestoredFile:
    instrument: str  # exchange:market:SYMBOL
    kind: str
    week: date
    rows: int


def restore_files(conn: psycopg.Connection, files: Sequence[ColdFile], reason: str) -> list[RestoredFile]:
    """Copy the files' rows back, all in one transaction, after checking every file."""
    for file in files:
        ColdStore(file.store_url).check(file.path, file.manifest)
    restored = []
    with conn.transaction():
        for file in files:
            restored.append(_restore_one(conn, file, reason))
    for kind, week in sorted({(f.kind, f.week) for f in files}):
        conn.execute(sql.SQL("analyze {}").format(sql.Identifier("raw", f"{kind}_w{week:%Y%m%d}")))
    return restored


def _restore_one(conn: psycopg.Connection, file: ColdFile, reason: str) -> RestoredFile:
    kind = raw_kind(conn, file.kind)
    start, end = week_bounds(file.week)
    ensure_week_partitions(conn, [kind.table], start, end - timedelta(microseconds=1))
    # Rows of the week loaded after it went cold (a late archive) stay; the file's are added
    # beside them, a row already there skipped.
    already = count_rows(conn, kind.table, file.instrument, file.week)
    read = 0
    for batch in read_batches(ColdStore(file.store_url), file.path, kind):
        copy_frame(conn, kind.table, batch.to_pandas(), skip_duplicates=already > 0)
        read += batch.num_rows
    held = count_rows(conn, kind.table, file.instrument, file.week)
    if read != file.manifest.row_count or held < file.manifest.row_count:
        raise ColdFileError(
            f"cold file {ColdStore(file.store_url).full_path(file.path)} gave {read:,} rows, its manifest says "
            f"{file.manifest.row_count:,}: nothing was restored"
        )
    record_restored(conn, file, held - already, reason)
    return RestoredFile(file.instrument.key, file.kind, file.week, held - already)


def restore_weeks(
    conn: psycopg.Connection, instruments: Sequence[Instrument], weeks: Sequence[date], reason: str
) -> list[RestoredFile]:
    """Restore the cold files of these instruments and weeks (those already hot are skipped)."""
    files = [row.file for row in ledger_rows(conn, instruments=instruments, weeks=weeks, status="cold")]
    return restore_files(conn, files, reason) if files else []


def restore_for_window(conn: psycopg.Connection, instrument: Instrument, start: date, days: int) -> list[RestoredFile]:
    """What a backfill window of ``instrument`` reads, back in PostgreSQL: every raw table of
    its weeks and of its look-back's, and the other instruments' trades of its weeks (its data
    tests read them)."""
    if conn.execute("select to_regclass('raw.cold_weeks') is null").fetchone()[0]:
        return []  # a database not migrated to the cold tier has nothing cold
    own = weeks_overlapping(start - RAW_LOOKBACK, start + timedelta(days=days))
    window = weeks_overlapping(start, start + timedelta(days=days))
    files = [
        row.file for row in ledger_rows(conn, weeks=own, status="cold")
        if row.file.instrument == instrument or (row.file.week in window and row.file.kind == "trades")
    ]
    reason = f"backfill window {start} +{days}d of {instrument}"
    return restore_files(conn, files, reason) if files else []
