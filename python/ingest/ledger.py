"""Reads of the load ledger, and the record of files that could not be loaded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True)
class LedgerRow:
    source_kind: str
    source: str
    symbol: str | None
    data_kind: str | None
    first_ts: datetime | None
    last_ts: datetime | None
    rows_loaded: int
    rows_rejected: int
    loaded_at: datetime


@dataclass(frozen=True)
class FailureRow:
    source_kind: str
    source: str
    reason: str
    failed_at: datetime


def loaded_sources(conn: psycopg.Connection, source_kind: str, sources: list[str]) -> set[str]:
    rows = conn.execute(
        "select source from raw.load_ledger where source_kind = %s and source = any(%s)", (source_kind, sources)
    ).fetchall()
    return {row[0] for row in rows}


def record_failure(conn: psycopg.Connection, source_kind: str, source: str, reason: str) -> None:
    with conn.transaction():
        conn.execute(
            "insert into raw.load_failures (source_kind, source, reason) values (%s, %s, %s)",
            (source_kind, source, reason),
        )


def ledger_rows(
    conn: psycopg.Connection, *, source_kind: str | None = None, sources: list[str] | None = None, limit: int = 100
) -> list[LedgerRow]:
    rows = conn.execute(
        "select source_kind, source, symbol, data_kind, first_ts, last_ts, rows_loaded, rows_rejected, loaded_at"
        " from raw.load_ledger"
        " where (%(kind)s::text is null or source_kind = %(kind)s)"
        " and (%(sources)s::text[] is null or source = any(%(sources)s))"
        " order by loaded_at desc, source desc limit %(limit)s",
        {"kind": source_kind, "sources": sources, "limit": limit},
    ).fetchall()
    return [LedgerRow(*row) for row in rows]


def outstanding_failures(
    conn: psycopg.Connection, *, source_kind: str | None = None, limit: int = 20
) -> list[FailureRow]:
    """Failed attempts at files the ledger still does not hold (a later successful load clears them)."""
    rows = conn.execute(
        "select f.source_kind, f.source, f.reason, f.failed_at from raw.load_failures f"
        " where (%(kind)s::text is null or f.source_kind = %(kind)s)"
        " and not exists (select 1 from raw.load_ledger l where l.source_kind = f.source_kind and l.source = f.source)"
        " order by f.failed_at desc, f.failure_id desc limit %(limit)s",
        {"kind": source_kind, "limit": limit},
    ).fetchall()
    return [FailureRow(*row) for row in rows]
