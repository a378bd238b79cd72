"""What a user sees when a command cannot do what was asked: one line, exit 2, nothing written."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli

RAW_TABLES = ("raw.trades", "raw.l1_quotes", "raw.load_ledger", "raw.load_failures", "ops.backfill_runs")


def _written(database) -> dict[str, int]:
    return {table: database.scalar(f"select count(*) from {table}") for table in RAW_TABLES}  # noqa: S608


def _assert_one_line_refusal(result, *expected: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("backfill", "run", "--symbols", ""), "no symbol given"),
        (("backfill", "plan", "--symbols", " , "), "no symbol given"),
        (("synth", "--symbols", "RELA", "--start", "1900-01-01", "--days", "2"), "outside the accepted range"),
        (("synth", "--symbols", "RELA", "--start", "9999-12-01"), "outside the accepted range"),
        (("synth", "--symbols", "RELA", "--start", "2009-01-02", "--days", "2"), "2009-01-02 is outside"),
        (("backfill", "run", "--window-start", "9999-12-31"), "outside the accepted range"),
        (("backfill", "run", "--window-start", "1970-01-05"), "outside the accepted range"),
        (("ingest", "binance", "--market", "spot", "--kind", "trades", "--symbol", "BTCUSDT",
          "--start", "1900-01-01", "--end", "1900-03-01"), "outside the accepted range"),
        (("train", "--start", "1900-01-01"), "outside the accepted range"),
        (("retention", "apply", "--keep", "5m=forever"), "invalid --keep 5m"),
        (("retention", "apply", "--keep", "7m=4 weeks"), "invalid --keep 7m"),
    ],
)
def test_bad_dates_symbols_and_policies_are_refused_before_anything_is_written(database, args, expected):
    before = _written(database)
    _assert_one_line_refusal(run_cli(*args), expected)
    assert _written(database) == before


def test_the_market_may_not_run_past_a_year_from_today(database):
    from datetime import date, timedelta

    start = (date.today() + timedelta(days=300)).replace(day=1)
    result = run_cli("synth", "--symbols", "RELA", "--start", start.isoformat(), "--months", "6")
    _assert_one_line_refusal(result, "the market's last day")
    assert _written(database)["raw.trades"] == 0


@pytest.mark.parametrize("command", [("train",), ("backfill", "run"), ("backfill", "plan"), ("status",)])
def test_an_unreachable_database_is_one_line_and_exit_2(command):
    result = run_cli(*command, env={"SNIPER_DATABASE_URL": "postgresql://sniper@127.0.0.1:1/nowhere"}, timeout=120)
    _assert_one_line_refusal(result, "cannot reach database")
    assert result.stdout == ""
