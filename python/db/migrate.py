"""Apply the raw-schema migrations in order, once each, under an advisory lock."""

from __future__ import annotations

from importlib import resources

import psycopg

MIGRATION_LOCK_KEY = 7_300_001


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) pairs in the order they must be applied."""
    folder = resources.files("sniper.db") / "migrations"
    files = sorted(entry for entry in folder.iterdir() if entry.name.endswith(".sql"))
    return [(entry.name.removesuffix(".sql"), entry.read_text()) for entry in files]


def migrate(conn: psycopg.Connection) -> list[str]:
    """Bring the raw schema up to date; returns the versions applied now."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        conn.execute("create schema if not exists raw")
        conn.execute(
            "create table if not exists raw.schema_migrations ("
            " version text primary key, applied_at timestamptz not null default now())"
        )
        done = {row[0] for row in conn.execute("select version from raw.schema_migrations")}
        for version, statements in migration_files():
            if version in done:
                continue
            conn.execute(statements)
            conn.execute("insert into raw.schema_migrations (version) values (%s)", (version,))
            applied_now.append(version)
    return applied_now
