"""Shared fixtures: one embedded PostgreSQL for the session, a fresh database per use.

Code under test finds its database the way users' code does, through
SNIPER_DATABASE_URL, so every test exercises the same resolution as the CLI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from sniper.db.connection import DatabaseTarget, resolve_target
from sniper.db.embedded import EmbeddedCluster
from sniper.db.scratch import create_scratch_database, drop_scratch_database
from sniper.settings import get_settings

REPO = Path(__file__).resolve().parents[1]
# The real captures the tests read travel with the repository (tests/data/realdata/README.md).
REALDATA = REPO / "tests" / "data" / "realdata"
SNIPER = Path(sys.executable).with_name("sniper")


WORKER_SCRATCH = pytest.StashKey[Path]()


def pytest_configure(config) -> None:
    """Flows run in-process and in child `sniper` processes get the CLI's Prefect settings.

    Under pytest-xdist (`make test`) every worker process runs whole files side by side with
    the others: each gets its own dbt target and log directories (the parsed manifest and
    run results are written there), its own Prefect home (the temporary API server's
    SQLite database) and its own state directory (SNIPER_DATA_DIR: the model artifacts of
    the runs it trains, never the checkout's `.sniper`); the embedded cluster is per worker
    already (pg_cluster below). A run without workers gets one such directory too. Child
    `sniper` processes inherit them."""
    from sniper.prefect_env import quiet_prefect

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    scratch = Path(tempfile.mkdtemp(prefix=f"sniper-{worker}-", dir="/tmp"))
    config.stash[WORKER_SCRATCH] = scratch
    os.environ["DBT_TARGET_PATH"] = str(scratch / "dbt-target")
    os.environ["DBT_LOG_PATH"] = str(scratch / "dbt-logs")
    os.environ["PREFECT_HOME"] = str(scratch / "prefect")
    os.environ["SNIPER_DATA_DIR"] = str(scratch / "state")
    quiet_prefect()


# The files that take longest (a minute or more each: their tests' durations summed, from a
# clean-clone `make test` with `--durations=0`, 2026-12-07), longest first: workers take whole
# files in collection order, so these start at once and the short files fill in around them
# instead of one worker starting the longest file last.
LONGEST_FILES = (
    "test_live_forward.py", "test_backfill_flow.py", "test_training_honesty.py", "test_cold_tier.py",
    "test_record.py", "test_backfill_faults.py", "test_live_window.py", "test_futures_history.py",
    "test_serve.py", "test_candles_incremental.py", "test_live_replay.py", "test_training_dask.py",
    "test_recorded_backfill.py", "test_sql_style.py",
)


def pytest_collection_modifyitems(session, config, items) -> None:
    """Longest files first (LONGEST_FILES), the rest in their usual order."""
    rank = {name: position for position, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_sessionfinish(session, exitstatus) -> None:
    """Flows run in-process start Prefect's temporary server: stop it before the interpreter exits."""
    from sniper.prefect_env import shutdown_prefect

    shutdown_prefect()


def pytest_unconfigure(config) -> None:
    """The process's dbt target, logs, Prefect home and state directory go with it (after
    sessionfinish stopped Prefect)."""
    scratch = config.stash.get(WORKER_SCRATCH, None)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


def shared_prefect_api() -> str:
    """The worker process's Prefect API server, started on first use, and PREFECT_API_URL set
    to it: the child `sniper` commands of run_cli (and of tests/faults/) report their flows
    there instead of starting a temporary server each (about 5 s of CPU apiece on this 2-core
    host, some twenty times a run), and in-process flows find it running (Prefect's own
    temporary server object, as python/prefect_env.py starts it). A test about the temporary
    server itself gives its child PREFECT_API_URL="" (tests/test_backfill_flow.py) or drops it
    (tests/test_serve.py, tests/test_security.py). Stopped by pytest_sessionfinish."""
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()  # once per process
    os.environ["PREFECT_API_URL"] = server.api_url
    return server.api_url


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[EmbeddedCluster]:
    root = Path(tempfile.mkdtemp(prefix="sniper-test-", dir="/tmp"))
    cluster = EmbeddedCluster(root / "pgdata")
    cluster.start()
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class TestDatabase:
    name: str
    url: str
    cluster: EmbeddedCluster

    @property
    def target(self) -> DatabaseTarget:
        return resolve_target()

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.url, **kwargs)

    def scalar(self, query: str, params=None):
        with self.connect() as conn:
            return conn.execute(query, params).fetchone()[0]

    def rows(self, query: str, params=None) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(query, params).fetchall()

    def frame(self, query: str, params=None) -> pd.DataFrame:
        """A query's result as a DataFrame (timestamps stay timezone-aware UTC)."""
        with self.connect() as conn:
            cursor = conn.execute(query, params)
            columns = [column.name for column in cursor.description]
            return pd.DataFrame(cursor.fetchall(), columns=columns)


def _create_database(cluster: EmbeddedCluster, prefix: str) -> TestDatabase:
    name, url = create_scratch_database(cluster, prefix)
    return TestDatabase(name=name, url=url, cluster=cluster)


@pytest.fixture
def database(pg_cluster, monkeypatch) -> Iterator[TestDatabase]:
    """A fresh, migrated database for one test, exported as SNIPER_DATABASE_URL."""
    db = _create_database(pg_cluster, "t")
    monkeypatch.setenv("SNIPER_DATABASE_URL", db.url)
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()
    drop_scratch_database(pg_cluster, db.name)


@pytest.fixture(scope="module")
def module_database(pg_cluster) -> Iterator[TestDatabase]:
    """A fresh database shared by one test module (for expensive setups such as dbt builds)."""
    db = _create_database(pg_cluster, "m")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SNIPER_DATABASE_URL", db.url)
        get_settings.cache_clear()
        yield db
    get_settings.cache_clear()
    drop_scratch_database(pg_cluster, db.name)


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the installed `sniper` entry point as a user would, capturing its output."""
    shared_prefect_api()
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(SNIPER), *args], capture_output=True, text=True, env=full_env, timeout=timeout, check=False
    )
