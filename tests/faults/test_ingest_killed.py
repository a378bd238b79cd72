"""Fault injection on a loader: kill -9 in the middle of an archive leaves all or nothing of it; a re-run completes it."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import time
from datetime import date

from sniper.ingest.layout import ArchiveName
from tests.conftest import SNIPER, run_cli
from tests.ingest_fixtures import csv_text, make_trades, spot_trade_line, write_archive

DAY = date(2024, 6, 3)
ROWS = 400_000
CHUNK_ROWS = 20_000


def loader_inserting(database) -> int | None:
    """The pid of a backend that holds a row lock on a raw.trades partition: rows are going in."""
    row = database.rows(
        "select l.pid from pg_locks l join pg_class c on c.oid = l.relation join pg_stat_activity a on a.pid = l.pid"
        " where c.relname like 'trades_w%%' and l.mode = 'RowExclusiveLock' and a.datname = current_database()"
        " and l.pid <> pg_backend_pid() limit 1"
    )
    return row[0][0] if row else None


def test_kill_9_mid_file_leaves_nothing_and_a_rerun_loads_it_all(database, tmp_path):
    trades = make_trades(DAY, ROWS, first_id=1)
    write_archive(tmp_path, ArchiveName("spot", "trades", "BTCUSDT", DAY), csv_text([spot_trade_line(t) for t in trades]))
    args = ["ingest", "binance", "--market", "spot", "--kind", "trades", "--symbol", "BTCUSDT", "--start", "2024-06-03",
            "--end", "2024-06-04", "--from-dir", str(tmp_path), "--chunk-rows", str(CHUNK_ROWS)]
    loader = subprocess.Popen([str(SNIPER), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ)
    try:
        deadline = time.monotonic() + 60
        backend = None
        while backend is None and time.monotonic() < deadline and loader.poll() is None:
            backend = loader_inserting(database)
            time.sleep(0.01)
        assert backend is not None, "the loader never started inserting rows"
        assert loader.poll() is None, "the loader finished before it could be killed"
        assert database.scalar("select count(*) from raw.load_ledger") == 0  # mid-file: not ledgered yet
        os.kill(loader.pid, signal.SIGKILL)
        loader.wait(timeout=10)
    finally:
        if loader.poll() is None:
            loader.kill()
    assert loader.returncode == -signal.SIGKILL

    # The server rolls the orphaned transaction back once it sees the client gone.
    deadline = time.monotonic() + 30
    while database.scalar("select count(*) from pg_stat_activity where pid = %s", (backend,)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert database.scalar("select count(*) from raw.trades") == 0
    assert database.scalar("select count(*) from raw.load_ledger") == 0
    assert database.scalar("select count(*) from raw.load_rejects") == 0

    rerun = run_cli(*args)
    assert rerun.returncode == 0, rerun.stderr
    count, qty, first_id, last_id = database.rows("select count(*), sum(qty), min(trade_id), max(trade_id) from raw.trades")[0]
    assert (count, first_id, last_id) == (ROWS, 1, ROWS)
    assert math.isclose(qty, sum(t.qty for t in trades), rel_tol=1e-9)
    assert database.rows("select rows_loaded, rows_rejected from raw.load_ledger") == [(ROWS, 0)]
