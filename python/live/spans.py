"""Spans: what the recorder covered, per instrument, in raw.recording_spans and raw.load_ledger.

A span is one instrument's share of one connection. It opens when the connection is up,
advances in the transaction of every batch (its covered interval, counts and
``last_commit_at``), and closes with the reason the connection ended. Its ledger row
(source_kind 'live', data_kind 'trade+bookTicker') carries the same covered interval,
which dbt turns into covered time (models/intermediate/int_coverage__load_spans.sql).

Only one process records an instrument: it holds a session advisory lock per
instrument for as long as it runs. So an open span of an instrument whose lock we hold
belongs to a process that died; it is closed as 'process died', ending at its last
committed batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from sniper.instruments import Instrument

SOURCE_KIND = "live"
DATA_KIND = "trade+bookTicker"
PROCESS_DIED = "process died"
# How long a starting recorder waits for an instrument's lock: after a kill -9 the server
# drops the dead process's session (and its locks) within moments.
LOCK_WAIT_SECONDS = 5


class InstrumentBusy(Exception):
    """Another live recorder holds the lock of an instrument."""


def lock_name(instrument: Instrument) -> str:
    """The advisory lock one recorder holds per instrument."""
    return f"{SOURCE_KIND}:{instrument.exchange}/{instrument.market}/{instrument.symbol}"


@dataclass
class SpanProgress:
    """One open span: its keys, and what its committed batches added up to."""

    instrument: Instrument
    connected_at: datetime
    load_id: int
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    messages: int = 0
    trades: int = 0
    quotes: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.trades + self.quotes

    def detail(self, end_reason: str | None) -> dict:
        """The ledger row's detail, shaped like a file load's (raw.load_ledger.detail)."""
        return {
            "rows": {"raw.trades": self.trades, "raw.l1_quotes": self.quotes},
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "messages": self.messages,
            "end_reason": end_reason,
        }


def lock_instruments(conn: psycopg.Connection, instruments: list[Instrument]) -> None:
    """Take each instrument's session lock (held until the connection closes), or raise InstrumentBusy."""
    conn.execute(f"set lock_timeout = '{LOCK_WAIT_SECONDS}s'")
    try:
        for instrument in sorted(instruments, key=lock_name):
            try:
                conn.execute("select pg_advisory_lock(hashtextextended(%s, 0))", (lock_name(instrument),))
            except psycopg.errors.LockNotAvailable:
                raise InstrumentBusy(
                    f"another `sniper record` is recording {instrument.exchange} {instrument.market} "
                    f"{instrument.symbol} (its lock was not released within {LOCK_WAIT_SECONDS} s)"
                ) from None
    finally:
        conn.execute("reset lock_timeout")


def close_dangling(conn: psycopg.Connection, instruments: list[Instrument]) -> int:
    """Close the open spans of these instruments (left by a process that died): they end at
    their last committed batch. Call inside a transaction, holding the instruments' locks."""
    closed = 0
    for instrument in instruments:
        rows = conn.execute(
            "update raw.recording_spans set disconnected_at = last_commit_at, end_reason = %s"
            " where exchange = %s and market = %s and symbol = %s and end_reason is null"
            " returning load_id",
            (PROCESS_DIED, instrument.exchange, instrument.market, instrument.symbol),
        ).fetchall()
        for (load_id,) in rows:
            conn.execute(
                "update raw.load_ledger set detail = detail || jsonb_build_object('end_reason', %s::text)"
                " where load_id = %s",
                (PROCESS_DIED, load_id),
            )
        closed += len(rows)
    return closed


def open_span(
    conn: psycopg.Connection, instrument: Instrument, *, connection: str, url: str, connected_at: datetime, pid: int
) -> SpanProgress:
    """Insert the span and its ledger row (covered interval still empty). Call inside a transaction."""
    progress = SpanProgress(instrument, connected_at, load_id=0)
    load_id = conn.execute(
        "insert into raw.load_ledger (source_kind, source, exchange, market, symbol, data_kind, detail)"
        " values (%s, %s, %s, %s, %s, %s, %s) returning load_id",
        (
            SOURCE_KIND,
            f"{connection}/{instrument.symbol}",
            instrument.exchange,
            instrument.market,
            instrument.symbol,
            DATA_KIND,
            Jsonb(progress.detail(None)),
        ),
    ).fetchone()[0]
    conn.execute(
        "insert into raw.recording_spans (exchange, market, symbol, connected_at, last_commit_at, connection,"
        " url, pid, load_id) values (%s, %s, %s, %s, now(), %s, %s, %s, %s)",
        (instrument.exchange, instrument.market, instrument.symbol, connected_at, connection, url, pid, load_id),
    )
    progress.load_id = load_id
    return progress


def record_progress(
    conn: psycopg.Connection, span: SpanProgress, *, end_reason: str | None = None, ended_at: datetime | None = None
) -> None:
    """Write the span's totals (and, with ``end_reason``, close it). Call in the batch's transaction."""
    conn.execute(
        "update raw.recording_spans set last_commit_at = now(), first_ts = %s, last_ts = %s, messages = %s,"
        " trades = %s, quotes = %s, duplicates = %s, rejected = %s, end_reason = %s, disconnected_at = %s"
        " where load_id = %s and end_reason is null",
        (
            span.first_ts,
            span.last_ts,
            span.messages,
            span.trades,
            span.quotes,
            span.duplicates,
            span.rejected,
            end_reason,
            ended_at if end_reason is not None else None,
            span.load_id,
        ),
    )
    # loaded_at moves with every batch: regimes.materialization_days compares it with the
    # last backfill of each day the span touched, so new live rows get materialized.
    conn.execute(
        "update raw.load_ledger set first_ts = %s, last_ts = %s, rows_loaded = %s, rows_rejected = %s,"
        " detail = %s, loaded_at = now() where load_id = %s",
        (span.first_ts, span.last_ts, span.rows, span.rejected, Jsonb(span.detail(end_reason)), span.load_id),
    )
