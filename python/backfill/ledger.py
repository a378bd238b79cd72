"""ops.backfill_runs: one row per attempt at one window, and the advisory lock of a run."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from sniper.backfill.planner import PlannedWindow

BACKFILL_LOCK_KEY = 7_300_010


class BackfillAlreadyRunning(Exception):
    """Another backfill holds the lock: this one must exit at once."""


@dataclass
class BackfillLock:
    """A session-level advisory lock on its own connection, held for the whole run."""

    conn: psycopg.Connection

    def __enter__(self) -> BackfillLock:
        acquired = self.conn.execute("select pg_try_advisory_lock(%s)", (BACKFILL_LOCK_KEY,)).fetchone()[0]
        if not acquired:
            raise BackfillAlreadyRunning(
                "another backfill is running (PostgreSQL advisory lock 7300010 is held); this run exits"
            )
        return self

    def __exit__(self, *exc) -> None:
        self.conn.execute("select pg_advisory_unlock(%s)", (BACKFILL_LOCK_KEY,))


def mark_interrupted(conn: psycopg.Connection) -> int:
    """Attempts left 'running' by a process that died: only callable while holding the lock."""
    cursor = conn.execute(
        "update ops.backfill_runs set status = 'failed', finished_at = now(),"
        " error = 'interrupted: the process running this window died before it finished'"
        " where status = 'running'"
    )
    return cursor.rowcount


def start_attempt(conn: psycopg.Connection, window: PlannedWindow, flow_run_id: str | None) -> int:
    return conn.execute(
        "insert into ops.backfill_runs (flow_run_id, symbol, window_start_date, window_days, reason, status)"
        " values (%s, %s, %s, %s, %s, 'running') returning attempt_id",
        (flow_run_id, window.symbol, window.start, window.days, window.reason),
    ).fetchone()[0]


def finish_attempt(
    conn: psycopg.Connection, attempt_id: int, *, rows_written: int | None, seconds: float, error: str | None
) -> None:
    conn.execute(
        "update ops.backfill_runs set status = %s, rows_written = %s, duration_seconds = %s, error = %s,"
        " finished_at = now() where attempt_id = %s",
        ("failed" if error else "succeeded", rows_written, seconds, error, attempt_id),
    )
