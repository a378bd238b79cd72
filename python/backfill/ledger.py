"""ops.backfill_runs: one row per attempt at one window, and the advisory lock of a run.

When the database cannot take a failure's record (it was stopped mid-window), the failure
goes to a local file under the state directory instead, and the next run, which finds the
attempt still `running`, records that reason rather than a bare "interrupted".
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import psycopg

from sniper.backfill.planner import PlannedWindow
from sniper.db.connection import connect
from sniper.settings import get_settings

BACKFILL_LOCK_KEY = 7_300_010
LOCK_POLL_SECONDS = 0.2
INTERRUPTED = "interrupted: the process running this window died before it finished"


class BackfillAlreadyRunning(Exception):
    """Another backfill holds the lock: this one must exit at once."""


_held_count = 0
_held_guard = threading.Lock()


@contextmanager
def backfill_lock(wait_seconds: float = 0.0) -> Iterator[None]:
    """The run's session-level advisory lock, on a connection of its own, for the whole run.

    Every writer of the windowed tables takes it: the backfill, the live materialization
    (flows/live_materialize.py) and the builds of the ml tables (training, forward outcomes),
    so no two dbt builds of the same tables ever overlap.

    Re-entrant within a process: `sniper backfill run` takes it before Prefect starts (a
    second run started meanwhile exits at once) and the flow it then runs, in the same
    process, finds it held. Raises BackfillAlreadyRunning when another process holds it for
    longer than `wait_seconds` (0: try once).
    """
    global _held_count
    with _held_guard:
        if _held_count:
            _held_count += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _held_guard:
                _held_count -= 1
        return
    with connect(autocommit=True) as conn:
        deadline = time.monotonic() + wait_seconds
        while not (acquired := conn.execute("select pg_try_advisory_lock(%s)", (BACKFILL_LOCK_KEY,)).fetchone()[0]):
            if time.monotonic() >= deadline:
                break
            time.sleep(LOCK_POLL_SECONDS)
        if not acquired:
            raise BackfillAlreadyRunning(
                "another backfill is running (PostgreSQL advisory lock 7300010 is held); this run exits"
            )
        with _held_guard:
            _held_count = 1
        try:
            yield
        finally:
            with _held_guard:
                _held_count = 0
            if not conn.closed and not conn.broken:
                conn.execute("select pg_advisory_unlock(%s)", (BACKFILL_LOCK_KEY,))


def offline_failures_path() -> Path:
    return get_settings().state_dir / "logs" / "backfill-unrecorded-failures.jsonl"


def record_failure_offline(attempt_id: int, error: str) -> None:
    """The database could not take the failure's record: keep it locally for the next run."""
    path = offline_failures_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {"attempt_id": attempt_id, "error": error, "at": datetime.now(timezone.utc).isoformat()}
    with path.open("a") as handle:
        handle.write(json.dumps(line) + "\n")


def mark_interrupted(conn: psycopg.Connection) -> int:
    """Attempts left 'running' by a process that died or lost its database: failed, with the
    reason kept offline when there is one. Only callable while holding the lock."""
    path = offline_failures_path()
    offline = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                offline[int(entry["attempt_id"])] = f"{entry['error']} (recorded at {entry['at']})"
    cursor = conn.execute(
        "update ops.backfill_runs set status = 'failed', finished_at = now(),"
        " error = coalesce((%s::jsonb ->> attempt_id::text), %s)"
        " where status = 'running'",
        (json.dumps({str(key): value for key, value in offline.items()}), INTERRUPTED),
    )
    path.unlink(missing_ok=True)
    return cursor.rowcount


def start_attempt(conn: psycopg.Connection, window: PlannedWindow, flow_run_id: str | None) -> int:
    return conn.execute(
        "insert into ops.backfill_runs"
        " (flow_run_id, exchange, market, symbol, window_start_date, window_days, reason, status)"
        " values (%s, %s, %s, %s, %s, %s, %s, 'running') returning attempt_id",
        (flow_run_id, window.instrument.exchange, window.instrument.market, window.instrument.symbol,
         window.start, window.days, window.reason),
    ).fetchone()[0]


def finish_attempt(
    conn: psycopg.Connection, attempt_id: int, *, rows_written: int | None, seconds: float, error: str | None
) -> None:
    conn.execute(
        "update ops.backfill_runs set status = %s, rows_written = %s, duration_seconds = %s, error = %s,"
        " finished_at = now() where attempt_id = %s",
        ("failed" if error else "succeeded", rows_written, seconds, error, attempt_id),
    )
