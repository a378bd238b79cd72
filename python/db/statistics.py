"""Planner statistics of the raw tables, refreshed after loads.

PostgreSQL's autovacuum never analyzes a partitioned table itself (only its partitions,
and only once enough rows changed), so right after a bulk load the planner can see a
freshly loaded week as nearly empty and pick nested loops over hundreds of thousands of
rows. ANALYZE of a parent samples a bounded number of rows (default_statistics_target x
300) across its partitions and then analyzes each partition the same way, so its cost
follows the number of partitions, not the rows: 5.8 s for the demo's six months of two
symbols (about 100 weekly partitions). PostgreSQL 18's ANALYZE ONLY could skip the
partitions; it is not used so that older external servers keep working.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

# The raw tables the dbt models read (see models/staging/_staging__sources.yml), and the
# USD-M futures tables their staging models will read (migration 0011).
ANALYZED_TABLES = (
    "trades", "l1_quotes", "depth_bands", "options_chain", "klines", "futures_metrics", "funding_rates", "load_ledger",
)


def analyze_raw(conn: psycopg.Connection) -> list[str]:
    """ANALYZE the raw tables the models read (and, through them, their partitions) that
    changed since their last ANALYZE; returns the tables analyzed.

    A table is stale when it, or one of its partitions, has rows modified since it was last
    analyzed or was never analyzed (pg_stat_user_tables). The demo analyzed its eight
    months twice, right after writing them and again when the backfill started (about 8 s).
    """
    stale = [table for table in ANALYZED_TABLES if _is_stale(conn, table)]
    for table in stale:
        conn.execute(sql.SQL("analyze {}").format(sql.Identifier("raw", table)))
    return stale


def _is_stale(conn: psycopg.Connection, table: str) -> bool:
    row = conn.execute(
        """
        select coalesce(bool_or(stats.n_mod_since_analyze > 0
                                or coalesce(stats.last_analyze, stats.last_autoanalyze) is null), true)
        from pg_stat_user_tables as stats
        where stats.relid = to_regclass(%(name)s)
           or stats.relid in (select inhrelid from pg_inherits where inhparent = to_regclass(%(name)s))
        """,
        {"name": f"raw.{table}"},
    ).fetchone()
    return bool(row[0])
