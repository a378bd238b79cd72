"""Whether a table exists yet: dbt models appear only after a build, so readers ask first."""

from __future__ import annotations

import psycopg


def relation_exists(conn: psycopg.Connection, name: str) -> bool:
    """True when ``schema.table`` exists (a table or a view), without raising when it does not."""
    return bool(conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0])
