"""The database commands: embedded by default, external when SNIPER_DATABASE_URL is set."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.fixture
def private_home():
    """A project state dir of its own, with no external database configured."""
    root = Path(tempfile.mkdtemp(prefix="sniper-home-", dir="/tmp"))
    env = {"SNIPER_DATA_DIR": str(root), "SNIPER_DATABASE_URL": ""}
    yield root, env
    run_cli("db", "stop", env=env)
    shutil.rmtree(root, ignore_errors=True)


def _without_url(env: dict[str, str]) -> dict[str, str]:
    # An empty SNIPER_DATABASE_URL would be read as a URL: remove it from the child's env.
    child = {k: v for k, v in os.environ.items() if k != "SNIPER_DATABASE_URL"}
    child.update({k: v for k, v in env.items() if k != "SNIPER_DATABASE_URL"})
    return child


def test_embedded_cluster_lifecycle(private_home):
    root, env = private_home
    env = _without_url(env)
    stopped = run_cli("db", "status", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped" in stopped.stdout

    started = run_cli("db", "start", env=env)
    assert started.returncode == 0, started.stderr
    assert (root / "pgdata" / "PG_VERSION").exists()
    assert "0001_raw_schema" in started.stdout

    status = run_cli("db", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert "embedded" in status.stdout
    for table in ("raw.trades", "raw.l1_quotes", "raw.depth_bands", "raw.options_chain", "raw.futures_metrics",
                  "raw.funding_rates", "raw.load_ledger"):
        assert table in status.stdout

    url = run_cli("db", "url", env=env)
    assert f"host={root / 'pgdata'}" in url.stdout
    # Unix socket only: the server must not listen on TCP.
    conf = (root / "pgdata" / "sniper.conf").read_text()
    assert "listen_addresses = ''" in conf

    assert run_cli("db", "stop", env=env).returncode == 0
    assert "stopped" in run_cli("db", "status", env=env).stdout
    assert not (root / "pgdata" / "postmaster.pid").exists()


def test_external_url_password_is_never_printed():
    env = {"SNIPER_DATABASE_URL": "postgresql://bob:s3cret-pw@127.0.0.1:1/warehouse"}
    url = run_cli("db", "url", env=env)
    assert url.returncode == 0
    assert "s3cret-pw" not in url.stdout + url.stderr
    assert "password=***" in url.stdout
    assert "host=127.0.0.1" in url.stdout


def test_unreachable_database_is_one_line_exit_2():
    env = {"SNIPER_DATABASE_URL": "postgresql://bob:s3cret-pw@127.0.0.1:1/warehouse"}
    result = run_cli("db", "status", env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "cannot reach database" in result.stderr
    assert "Traceback" not in result.stderr
    assert "s3cret-pw" not in result.stderr


def test_invalid_database_url_is_one_line_exit_2():
    result = run_cli("db", "status", env={"SNIPER_DATABASE_URL": "postgresql://x:y@host:notaport/db"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
