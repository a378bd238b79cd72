"""`sniper status`: one screen on an empty warehouse and on hand-inserted candles, coverage,
backfill attempts and training runs (expected figures computed here from what was inserted)."""

from __future__ import annotations

import os
import subprocess
from datetime import date, datetime, timedelta, timezone

from tests.conftest import SNIPER, run_cli
from tests.test_report import NEW_RUN, create_regime_tables, insert_sample_runs

UTC = timezone.utc
WIDE = {"COLUMNS": "220"}  # rich wraps to the terminal's width; keep each table row on one line
FIVE_MINUTES = timedelta(minutes=5)
# symbol -> (first bucket, complete flags of consecutive 5m buckets)
CANDLES_5M = {
    "BTCUSDT": (datetime(2024, 6, 3, tzinfo=UTC), [True] * 9 + [False] * 3),
    "ETHUSDT": (datetime(2024, 6, 10, 12, tzinfo=UTC), [True] * 4),
}


def _line(output: str, *words: str) -> str:
    lines = [line for line in output.splitlines() if all(word in line for word in words)]
    assert len(lines) == 1, (words, output)
    return lines[0]


def test_empty_warehouse_says_not_built_yet(database):
    result = run_cli("status", env=WIDE)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "database: external" in out and database.name in out
    assert "candles: not built yet" in out and "coverage: not built yet" in out
    assert "backfill: no attempt yet" in out and "training: no run yet" in out
    for table in ("raw.trades", "raw.klines", "raw.load_ledger"):
        # The raw rows table comes first; raw.trades has a row in the hot/cold sizes table too.
        first = next(line for line in out.splitlines() if table + " " in line)
        assert " 0 " in first, (table, out)
    assert "hot" in out and "cold" in out


def _create_candles(conn) -> None:
    conn.execute("create schema candles")
    for timeframe in ("5m", "1h"):
        conn.execute(
            f"create table candles.candles_{timeframe} (exchange text, market text, symbol text,"
            " bucket_start_at timestamptz, open float8,"
            " high float8, low float8, close float8, volume float8, is_complete boolean, is_empty boolean)"
        )
    for symbol, (first, flags) in CANDLES_5M.items():
        conn.cursor().executemany(
            "insert into candles.candles_5m values ('binance', 'spot', %s, %s, 1, 1, 1, 1, 1, %s, false)",
            [(symbol, first + index * FIVE_MINUTES, flag) for index, flag in enumerate(flags)],
        )
    conn.execute("insert into candles.candles_1h values ('binance', 'spot', 'BTCUSDT', '2024-06-03 00:00+00',"
                 " 1, 1, 1, 1, 1, false, false)")


def _insert_attempts(conn) -> list[tuple]:
    """Seven attempts, one a day; the status shows the newest five."""
    attempts = []
    for number in range(1, 8):
        started = datetime(2024, 7, number, 3, tzinfo=UTC)
        status = {6: "failed", 7: "running"}.get(number, "succeeded")
        attempts.append(("BTCUSDT", date(2024, 6, 1) + timedelta(days=7 * (number - 1)), 7, f"reason-{number}",
                         status, None if status == "running" else 1000 * number,
                         "boom-6" if status == "failed" else None, started))
    conn.cursor().executemany(
        "insert into ops.backfill_runs (exchange, market, symbol, window_start_date, window_days, reason, status,"
        " rows_written, error, started_at) values ('binance', 'spot', %s, %s, %s, %s, %s, %s, %s, %s)",
        attempts,
    )
    return attempts


def test_populated_warehouse(database):
    with database.connect() as conn:
        _create_candles(conn)
        create_regime_tables(conn)
        attempts = _insert_attempts(conn)
        insert_sample_runs(conn)
    result = run_cli("status", env=WIDE)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "not built yet" not in out

    for symbol, (first, flags) in CANDLES_5M.items():
        line = _line(out, f"binance:spot:{symbol}", " 5m ")
        last = first + (len(flags) - 1) * FIVE_MINUTES
        assert f"{first:%Y-%m-%d %H:%M}" in line and f"{last:%Y-%m-%d %H:%M}" in line
        assert f" {len(flags)} " in line and f"{sum(flags) / len(flags):.1%}" in line
    assert "0.0%" in _line(out, "BTCUSDT", " 1h ")
    assert "ETHUSDT" not in [line for line in out.splitlines() if " 1h " in line]

    assert "3/2" in _line(out, "BTCUSDT", "4/6") and "not met" in _line(out, "BTCUSDT", "4/6")

    newest = sorted(attempts, key=lambda attempt: attempt[-1], reverse=True)[:5]
    for symbol, window_start, days, reason, status, rows, error, _ in newest:
        line = _line(out, f"{window_start} +{days}d")
        assert status in line and (error or reason) in line
        assert (f"{rows:,}" if rows is not None else " - ") in line
    for reason in ("reason-1", "reason-2"):
        assert reason not in out

    assert _line(out, "current verdict").startswith(f"current verdict: KEEP COLLECTING DATA (run {NEW_RUN}")
    assert "READY FOR LIVE TRADING" in _line(out, "run-old")
    # DSR, PBO and the SPA p-value as inserted (tests/test_report.py): 0.62, 0.3125, 0.087;
    # the older run predates PBO and SPA.
    header = _line(out, "created", "verdict").split()
    assert header[header.index("DSR"):header.index("DSR") + 3] == ["DSR", "PBO", "SPA"]
    newest = _line(out, NEW_RUN, "48.6%")  # its table row (the verdict line names the run too)
    assert " 0.620 " in newest and " 0.312 " in newest and " 0.087 " in newest
    assert _line(out, "run-old").split().count("n/a") == 2


def test_stopped_embedded_database_is_said_not_started(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "SNIPER_DATABASE_URL"}
    env.update(SNIPER_DATA_DIR=str(tmp_path), **WIDE)
    result = subprocess.run([str(SNIPER), "status"], capture_output=True, text=True, env=env, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "embedded, stopped" in result.stdout and "sniper db start" in result.stdout
    assert not (tmp_path / "pgdata").exists()
