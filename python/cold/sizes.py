"""Hot and cold sizes per raw table, for `sniper status` and `sniper cold status`.

Hot: pg_total_relation_size of every week partition (heap, TOAST, the primary key and the
id's BRIN index). Cold: the files raw.cold_weeks records as holding rows now (status cold).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from sniper.cold.kinds import COLD_KINDS


@dataclass(frozen=True)
class TierSize:
    kind: str
    hot_rows: int
    hot_bytes: int
    cold_files: int
    cold_rows: int
    cold_bytes: int

    @property
    def hot_bytes_per_row(self) -> float | None:
        return self.hot_bytes / self.hot_rows if self.hot_rows else None

    @property
    def cold_bytes_per_row(self) -> float | None:
        return self.cold_bytes / self.cold_rows if self.cold_rows else None


def hot_bytes(conn: psycopg.Connection, table: str) -> int:
    """Bytes of every partition of a partitioned raw table (its parent holds none)."""
    return conn.execute(
        "select coalesce(sum(pg_total_relation_size(inhrelid)), 0)::bigint from pg_inherits"
        " where inhparent = %s::regclass",
        (table,),
    ).fetchone()[0]


def tier_sizes(conn: psycopg.Connection, hot_rows: dict[str, int]) -> list[TierSize]:
    """One row per raw table that goes cold; ``hot_rows`` maps raw.<table> to its row count."""
    cold = {kind: (files, rows, size) for kind, files, rows, size in conn.execute(
        "select kind, count(*), sum(row_count)::bigint, sum(file_bytes)::bigint from raw.cold_weeks"
        " where status = 'cold' group by kind"
    )} if conn.execute("select to_regclass('raw.cold_weeks') is not null").fetchone()[0] else {}
    return [
        TierSize(kind, hot_rows.get(f"raw.{kind}", 0), hot_bytes(conn, f"raw.{kind}"), *cold.get(kind, (0, 0, 0)))
        for kind in COLD_KINDS
    ]
