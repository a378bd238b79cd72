"""The nightly incremental backfill as a Prefect flow.

For each instrument in turn (never in parallel): plan the next window (the planner re-reads
coverage after every window, so a finished month reorders the priorities), bring back from
the cold tier any raw week the window reads (python/cold/restore.py), materialize it with
``dbt build`` of the windowed models (parsed once per run), record the attempt in
ops.backfill_runs, sleep, repeat. A PostgreSQL advisory lock makes a second
concurrent run exit at once. The window is 7 days, 3 when available memory is low.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg
from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run

from sniper.backfill.ledger import (
    backfill_lock,
    finish_attempt,
    mark_interrupted,
    record_failure_offline,
    start_attempt,
)
from sniper.backfill.planner import PlannedWindow, is_built, known_instruments, load_state, plan
from sniper.cold.restore import RestoredFile, restore_for_window
from sniper.dbt_vars import ProjectVars
from sniper.errors import UserError
from sniper.db.connection import connect
from sniper.db.statistics import analyze_raw
from sniper.instruments import Instrument
from sniper.memory import available_memory_mb
from sniper.warehouse import invoke_dbt_parsed

# Everything downstream of the candles is rebuilt for the window: candles, then the
# features, regimes and coverage that read them. The ml tables (labels, the dataset)
# are rebuilt by the training flow, once per training run, not once per window.
WINDOWED_SELECTION = "candles+"
NOT_PER_WINDOW = "path:models/ml"
# The view the planner reads (which days are due): built once, it follows the ledgers live.
PLANNER_STATE = "materialization_days"
# A window holding no tick (2009-01-05, a Monday, two days after the first bitcoin block):
# building it creates any missing table and refreshes regimes and coverage from the
# exchange's klines, materializing nothing, so the planner knows every month's regime
# before the first real window.
EMPTY_WINDOW = ProjectVars(window_start=date(2009, 1, 5), window_days=1)


@dataclass(frozen=True)
class WindowResult:
    """One materialized window, as `sniper backfill run` prints it."""

    instrument: str  # exchange:market:SYMBOL
    window_start: date
    window_days: int
    reason: str
    status: str
    rows_written: int
    seconds: float


def window_days_for_memory(window_days: int, low_memory_window_days: int, min_available_memory_mb: int) -> int:
    """Shrink the window when memory is short: the host's available memory, or its control
    group's (a container, a 6 GB cgroup) when that is smaller (sniper.memory)."""
    available_mb = available_memory_mb()
    return low_memory_window_days if available_mb < min_available_memory_mb else window_days


def rows_written(result) -> int:
    total = 0
    for node_result in result.result or []:
        response = getattr(node_result, "adapter_response", None) or {}
        if getattr(node_result.node, "resource_type", None) == "model":
            total += int(response.get("rows_affected", 0) or 0)
    return total


@task(name="prepare-warehouse")
def prepare_warehouse() -> None:
    """Staging views, every windowed table, and regimes and coverage refreshed from klines."""
    invoke_dbt_parsed(["run", "--select", "staging", WINDOWED_SELECTION, PLANNER_STATE, "--exclude", NOT_PER_WINDOW,
                *EMPTY_WINDOW.dbt_args()])


@task(name="restore-cold-weeks")
def restore_cold_weeks(window: PlannedWindow) -> list[RestoredFile]:
    """The window's raw weeks (and its look-back's) that are in the cold tier, back in PostgreSQL,
    so the window computes from exactly the rows it would have hot."""
    with connect(autocommit=True) as conn:
        restored = restore_for_window(conn, window.instrument, window.start, window.days)
    for item in restored:
        print(f"      cold tier: restored {item.rows:,} rows of raw.{item.kind} {item.instrument} week {item.week}",
              file=sys.stderr, flush=True)
    return restored


@task(name="materialize-window")
def materialize_window(window: PlannedWindow, force_recompute: bool) -> WindowResult:
    logger = get_run_logger()
    dbt_vars = ProjectVars(
        window_start=window.start, window_days=window.days, instruments=[window.instrument.key],
        force_recompute=force_recompute,
    )
    # Progress for people watching a terminal (the demo, `sniper backfill run`).
    print(f"      backfill {window.instrument} {window.start} .. {window.end}: {window.reason}", file=sys.stderr,
          flush=True)
    with connect(autocommit=True) as conn:
        attempt = start_attempt(conn, window, flow_run.get_id())
    started = time.perf_counter()
    try:
        # Unit tests check the SQL, not the data: the test suite runs them, not every window.
        # Eager: every data test touching a windowed model runs, also one that reads a
        # staging view as well (the project's default, buildable, would skip it).
        result = invoke_dbt_parsed(["build", "--select", WINDOWED_SELECTION, "--exclude", NOT_PER_WINDOW,
                             "--exclude-resource-type", "unit_test", "--indirect-selection", "eager",
                             *dbt_vars.dbt_args()])
    except Exception as error:  # the ledger records every failure, then the flow fails
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        try:
            with connect(autocommit=True) as conn:
                finish_attempt(conn, attempt, rows_written=None, seconds=time.perf_counter() - started, error=message)
        except (UserError, psycopg.OperationalError) as lost:
            # The database is gone (stopped, unreachable): the next run records it from here,
            # with the cause first (dbt only says "Database Error").
            record_failure_offline(attempt, f"{str(lost).strip().splitlines()[0]} (dbt: {message})")
        raise
    seconds = time.perf_counter() - started
    written = rows_written(result)
    with connect(autocommit=True) as conn:
        finish_attempt(conn, attempt, rows_written=written, seconds=seconds, error=None)
    logger.info("%s %s +%sd: %s rows in %.1f s (%s)", window.instrument, window.start, window.days, written, seconds,
                window.reason)
    return WindowResult(window.instrument.key, window.start, window.days, window.reason, "succeeded", written,
                        seconds)


@flow(name="backfill")
def backfill(
    weeks: int = 1,
    instruments: list[str] | None = None,
    window_days: int = 7,
    low_memory_window_days: int = 3,
    min_available_memory_mb: int = 1500,
    sleep_seconds: float = 0.5,
    force_recompute: bool = False,
    window_start: date | None = None,
    lock_wait_seconds: float = 0.0,
) -> list[WindowResult]:
    """Materialize up to `weeks` planned windows per instrument (or one explicit window).

    `instruments` are exchange:market:SYMBOL keys; None: every instrument with loaded data.
    `lock_wait_seconds`: how long to wait for a live cycle (or another backfill) holding the lock.
    """
    with backfill_lock(wait_seconds=lock_wait_seconds):
        with connect(autocommit=True) as conn:
            mark_interrupted(conn)
            analyze_raw(conn)  # what was loaded since the last run, seen by the planner
            chosen = [Instrument.parse(key) for key in instruments] if instruments else known_instruments(conn)
            # Every window's build refreshes regimes and coverage; only a warehouse that has
            # never been built needs the empty window first.
            built = is_built(conn)
        if not built:
            prepare_warehouse()
        results: list[WindowResult] = []
        for instrument in chosen:
            for _ in range(weeks if window_start is None else 1):
                days = window_days_for_memory(window_days, low_memory_window_days, min_available_memory_mb)
                window = next_window(instrument, days, window_start, force_recompute)
                if window is None:
                    break
                if results:
                    time.sleep(sleep_seconds)
                restore_cold_weeks(window)
                results.append(materialize_window(window, force_recompute))
        return results


def next_window(
    instrument: Instrument, days: int, window_start: date | None, force_recompute: bool
) -> PlannedWindow | None:
    with connect() as conn:
        if window_start is not None:
            explicit = PlannedWindow(instrument, window_start, days, "requested explicitly")
            if force_recompute or _has_unmaterialized_days(conn, explicit):
                return explicit
            return None
        planned = plan(conn, [instrument], windows_per_instrument=1, window_days=days)
    return planned[0] if planned else None


def _has_unmaterialized_days(conn, window: PlannedWindow) -> bool:
    state = load_state(conn, window.instrument)
    days = {window.start + timedelta(days=i) for i in range(window.days)}
    return bool((days & state.tick_days) - state.materialized_days)
