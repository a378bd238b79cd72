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


def analyze_raw(conn: psycopg.Connection) -> None:
    """ANALYZE the raw tables the models read (and, through them, their partitions)."""
    for table in ANALYZED_TABLES:
        conn.execute(sql.SQL("analyze {}").format(sql.Identifier("raw", table)))
