"""Read-only facts about the warehouse for `sniper db status`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

# (table, timestamp column) for every raw table, in the order they are shown.
RAW_TABLES = [
    ("trades", "ts"),
    ("agg_trades", "ts"),
    ("l1_quotes", "ts"),
    ("depth_bands", "ts"),
    ("options_chain", "ts"),
    ("klines", "open_at"),
    ("futures_metrics", "ts"),
    ("funding_rates", "ts"),
    ("load_ledger", "loaded_at"),
    ("load_rejects", "rejected_at"),
    ("load_failures", "failed_at"),
]


@dataclass(frozen=True)
class TableCount:
    table: str
    rows: int
    first_ts: datetime | None
    last_ts: datetime | None


def server_version(conn: psycopg.Connection) -> str:
    return "PostgreSQL " + conn.execute("show server_version").fetchone()[0]


def raw_row_counts(conn: psycopg.Connection) -> list[TableCount]:
    counts = []
    for table, ts_column in RAW_TABLES:
        query = sql.SQL("select count(*), min({ts}), max({ts}) from raw.{table}").format(
            ts=sql.Identifier(ts_column), table=sql.Identifier(table)
        )
        rows, first_ts, last_ts = conn.execute(query).fetchone()
        counts.append(TableCount(f"raw.{table}", rows, first_ts, last_ts))
    return counts
