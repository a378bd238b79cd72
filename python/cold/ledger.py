"""raw.cold_weeks and raw.cold_restores (migration 0015): which files hold which rows, and when
rows came back. Reads and the two writes; the callers own the transactions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import psycopg

from sniper.cold.store import Manifest
from sniper.instruments import Instrument

DroppedBy = Literal["drop_partition", "delete_rows"]
Status = Literal["cold", "restored"]


@dataclass(frozen=True)
class ColdFile:
    """One instrument's week of one raw table, as a file in a store."""

    store_url: str
    path: str
    manifest: Manifest

    @property
    def instrument(self) -> Instrument:
        return Instrument(self.manifest.exchange, self.manifest.market, self.manifest.symbol)

    @property
    def kind(self) -> str:
        return self.manifest.kind

    @property
    def week(self) -> date:
        return self.manifest.week_start_date


@dataclass(frozen=True)
class LedgerRow:
    file: ColdFile
    status: Status
    dropped_by: DroppedBy


COLUMNS = ("exchange, market, symbol, kind, week_start_date, store_url, path, row_count, first_ts, last_ts, sha256,"
           " file_bytes, status, dropped_by")


def _row(values: tuple) -> LedgerRow:
    exchange, market, symbol, kind, week, store_url, path, rows, first_ts, last_ts, sha, size, status, dropped_by = values
    manifest = Manifest(kind, exchange, market, symbol, week, rows, first_ts, last_ts, sha, size)
    return LedgerRow(ColdFile(store_url, path, manifest), status, dropped_by)


def ledger_rows(
    conn: psycopg.Connection,
    *,
    instruments: Sequence[Instrument] | None = None,
    weeks: Sequence[date] | None = None,
    status: Status | None = None,
) -> list[LedgerRow]:
    """The ledger's rows, filtered (None: any), in (instrument, week, kind) order."""
    keys = [instrument.key for instrument in instruments] if instruments is not None else None
    rows = conn.execute(
        f"select {COLUMNS} from raw.cold_weeks"
        " where (%(keys)s::text[] is null or exchange || ':' || market || ':' || symbol = any(%(keys)s::text[]))"
        " and (%(weeks)s::date[] is null or week_start_date = any(%(weeks)s::date[]))"
        " and (%(status)s::text is null or status = %(status)s::text)"
        " order by exchange, market, symbol, week_start_date, kind",
        {"keys": keys, "weeks": list(weeks) if weeks is not None else None, "status": status},
    ).fetchall()
    return [_row(values) for values in rows]


def record_cold(conn: psycopg.Connection, file: ColdFile, dropped_by: DroppedBy) -> None:
    """The file now holds the rows (same transaction as their deletion)."""
    m = file.manifest
    conn.execute(
        f"insert into raw.cold_weeks ({COLUMNS}) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'cold', %s)"
        " on conflict (exchange, market, symbol, kind, week_start_date) do update set"
        " store_url = excluded.store_url, path = excluded.path, row_count = excluded.row_count,"
        " first_ts = excluded.first_ts, last_ts = excluded.last_ts, sha256 = excluded.sha256,"
        " file_bytes = excluded.file_bytes, status = 'cold', dropped_by = excluded.dropped_by, moved_at = now()",
        (m.exchange, m.market, m.symbol, m.kind, m.week_start_date, file.store_url, file.path, m.row_count,
         m.first_ts, m.last_ts, m.sha256, m.file_bytes, dropped_by),
    )


def record_restored(conn: psycopg.Connection, file: ColdFile, rows_restored: int, reason: str) -> None:
    """PostgreSQL holds the rows again (same transaction as their copy)."""
    m = file.manifest
    key = (m.exchange, m.market, m.symbol, m.kind, m.week_start_date)
    conn.execute(
        "update raw.cold_weeks set status = 'restored'"
        " where exchange = %s and market = %s and symbol = %s and kind = %s and week_start_date = %s",
        key,
    )
    conn.execute(
        "insert into raw.cold_restores (exchange, market, symbol, kind, week_start_date, rows_restored, reason)"
        " values (%s, %s, %s, %s, %s, %s, %s)",
        (*key, rows_restored, reason),
    )
