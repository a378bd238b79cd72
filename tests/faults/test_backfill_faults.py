"""Fault injection on the backfill (issue 12): kill -9 at three points of a window, a second
backfill during the first, the database stopped mid-window, then a rerun. Afterwards every
bucket exists exactly once, every loaded row exactly once, and ops.backfill_runs says what
happened to each attempt.

Each fault is placed deterministically: the test holds a lock that the window's statement
on one model needs (a SHARE lock blocks an incremental model's insert; an ACCESS SHARE lock
blocks a table model's swap), waits until a backend of the backfill is waiting for it, and
then strikes. The backfill runs on its own embedded cluster (SNIPER_DATA_DIR) so that
`sniper db stop` stops the server under it, as a user's would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from sniper.backfill.ledger import INTERRUPTED
from sniper.db.embedded import EmbeddedCluster
from tests.conftest import SNIPER, shared_prefect_api

DAYS = 14  # two 7-day windows
BUCKETS = DAYS * 288
BACKFILL = ["backfill", "run", "--weeks", "5", "--window-days", "7", "--sleep", "0", "--symbols", "FLT"]
# Where the three kills strike: the first model of the window, a feature model, the regimes.
KILL_POINTS = [
    ("candles.candles_5m", "share"),
    ("features.features_l1_5m", "share"),
    ("regimes.regime_coverage", "access share"),
]


def _env(state_dir: Path) -> dict[str, str]:
    shared_prefect_api()
    env = {k: v for k, v in os.environ.items() if k != "SNIPER_DATABASE_URL" and not k.startswith("PG")}
    return {**env, "SNIPER_DATA_DIR": str(state_dir)}


def _cli(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(SNIPER), *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)


def _start(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """A sniper process in a session of its own: a kill reaches it and all it started (its
    flows report to the worker's Prefect server, tests/conftest.py; a temporary server of its
    own when PREFECT_API_URL is unset)."""
    return subprocess.Popen([str(SNIPER), *args], env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


@pytest.fixture(scope="module")
def warehouse() -> Iterator[tuple[EmbeddedCluster, dict[str, str]]]:
    state = Path(tempfile.mkdtemp(prefix="sniper-faults-", dir="/tmp"))
    env = _env(state)
    cluster = EmbeddedCluster(state / "pgdata")
    try:
        assert _cli("db", "start", env=env).returncode == 0
        market = _cli("synth", "--symbols", "FLT", "--start", "2024-06-03", "--months", "1", "--days", str(DAYS),
                      "--trades-per-day", "300", "--seed", "5", env=env)
        assert market.returncode == 0, market.stderr[-2000:]
        yield cluster, env
    finally:
        _cli("db", "stop", env=env)
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(cluster.socket_dir, ignore_errors=True)


def _connect(cluster: EmbeddedCluster) -> psycopg.Connection:
    return psycopg.connect(cluster.conninfo("sniper"), autocommit=True)


def _wait_for(condition, what: str, process: subprocess.Popen | None = None, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            _, stderr = process.communicate()
            pytest.fail(f"the backfill ended (exit {process.returncode}) before {what}: {stderr[-2000:]}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _newest_attempt(cluster: EmbeddedCluster) -> int:
    with _connect(cluster) as conn:
        return conn.execute("select coalesce(max(attempt_id), 0) from ops.backfill_runs").fetchone()[0]


def _someone_waits_for(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute(
        "select exists (select from pg_locks where relation = %s::regclass and not granted)", (relation,)
    ).fetchone()[0]


@contextmanager
def _blocking(cluster: EmbeddedCluster, relation: str, mode: str) -> Iterator[psycopg.Connection]:
    """Hold `mode` on `relation` until the block ends (the watcher's connection is yielded)."""
    holder = _connect(cluster)
    try:
        holder.execute("begin")
        holder.execute(f"lock table {relation} in {mode} mode")
        with _connect(cluster) as watcher:
            yield watcher
    finally:
        try:
            holder.execute("rollback")
        except psycopg.Error:
            pass  # the server went away (sniper db stop)
        holder.close()


def _kill_group(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _attempts(cluster: EmbeddedCluster) -> list[tuple]:
    with _connect(cluster) as conn:
        return conn.execute(
            "select window_start_date, status, error from ops.backfill_runs order by attempt_id"
        ).fetchall()


def test_kills_a_concurrent_run_and_a_stopped_database_lose_nothing(warehouse):
    cluster, env = warehouse
    figures = {"faults injected": 0}
    with _connect(cluster) as conn:
        raw_before = conn.execute("select count(*), count(distinct trade_id) from raw.trades").fetchone()

    for number, (relation, mode) in enumerate(KILL_POINTS):
        newest = _newest_attempt(cluster)
        backfill = _start(*BACKFILL, env=env)
        try:
            # Mid-window: once the run has started an attempt (the first run builds the
            # warehouse before, which creates the relation).
            _wait_for(lambda: _newest_attempt(cluster) > newest, "a window to start", backfill)
            with _blocking(cluster, relation, mode) as watcher:
                _wait_for(lambda: _someone_waits_for(watcher, relation), f"a statement on {relation}", backfill)
                if number == 0:
                    started = time.monotonic()
                    second = _cli(*BACKFILL, env=env, timeout=120)
                    figures["second run exit seconds"] = round(time.monotonic() - started, 1)
                    assert second.returncode == 75, second.stdout + second.stderr
                    assert second.stderr.count("\n") == 1 and "another backfill is running" in second.stderr
                    figures["faults injected"] += 1
                _kill_group(backfill)
                figures["faults injected"] += 1
        finally:
            if backfill.poll() is None:
                _kill_group(backfill)

    # The database stopped by the user in the middle of a window: one line, exit 2.
    newest = _newest_attempt(cluster)
    backfill = _start(*BACKFILL, env=env)
    try:
        _wait_for(lambda: _newest_attempt(cluster) > newest, "a window to start", backfill)
        with _blocking(cluster, "candles.candles_5m", "share") as watcher:
            _wait_for(lambda: _someone_waits_for(watcher, "candles.candles_5m"), "a candle statement", backfill)
            assert _cli("db", "stop", env=env).returncode == 0
        _, stderr = backfill.communicate(timeout=120)
    finally:
        if backfill.poll() is None:
            _kill_group(backfill)
    figures["faults injected"] += 1
    assert backfill.returncode == 2, stderr[-3000:]
    # The progress lines of the window, then the failure: one line, no traceback.
    errors = [line for line in stderr.splitlines() if not line.startswith("      backfill ")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr[-3000:]
    assert errors[0].startswith("sniper: error: the embedded database was stopped with `sniper db stop`"), errors

    assert _cli("db", "start", env=env).returncode == 0
    rerun = _cli(*BACKFILL, env=env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]

    attempts = _attempts(cluster)
    failed = [error for _, status, error in attempts if status == "failed"]
    # Three kills: interrupted; the stop: the reason the dying run kept offline.
    assert failed[:3] == [INTERRUPTED] * 3, failed
    assert len(failed) == 4 and "stopped with `sniper db stop`" in failed[3], failed[3]
    assert "running" not in {status for _, status, _ in attempts}
    succeeded = sorted(str(start) for start, status, _ in attempts if status == "succeeded")
    assert succeeded == ["2024-06-03", "2024-06-10"], attempts  # each window once
    with _connect(cluster) as conn:
        counts = {
            table: conn.execute(
                f"select count(*), count(distinct bucket_start_at) from {table} where symbol = 'FLT'"  # noqa: S608
            ).fetchone()
            for table in ("candles.candles_5m", "features.features_5m", "features.features_l1_5m")
        }
        complete = conn.execute("select count(*) filter (where is_complete) from candles.candles_5m").fetchone()[0]
        # Every loaded trade and quote counted once: in its candle, in its bucket's L1 features.
        counted = conn.execute(
            "select (select sum(trade_count) from candles.candles_5m where symbol = 'FLT'),"
            " (select count(*) from raw.trades where symbol = 'FLT'),"
            " (select sum(l1_update_count) from features.features_l1_5m where symbol = 'FLT'),"
            " (select count(*) from raw.l1_quotes where symbol = 'FLT')"
        ).fetchone()
        raw_after = conn.execute("select count(*), count(distinct trade_id) from raw.trades").fetchone()
        ledgered = conn.execute("select sum(rows_loaded) from raw.load_ledger where data_kind = 'ticks'").fetchone()[0]
    # Candles and trade features: every bucket once. L1 features: a row where a quote or its
    # carried state reaches the bucket (not every bucket), still one per bucket.
    assert counts["candles.candles_5m"] == counts["features.features_5m"] == (BUCKETS, BUCKETS), counts
    assert counts["features.features_l1_5m"][0] == counts["features.features_l1_5m"][1] > 0, counts
    assert complete == BUCKETS
    assert counted[0] == counted[1] and counted[2] == counted[3] and counted[3] > 0, counted
    assert raw_after == raw_before and raw_after[0] == raw_after[1]
    assert ledgered >= raw_after[0]
    figures |= {"buckets checked": 3 * BUCKETS, "raw trades checked": raw_after[0], "losses found": 0,
                "attempts": len(attempts)}
    print("fault injection:", ", ".join(f"{key} {value}" for key, value in figures.items()))
