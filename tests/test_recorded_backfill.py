"""A team's own recordings are backfilled like archives, and recordings that follow each
other cover the buckets across their seam (issue 17): the two real spot BTCUSDT captures of
2024-08-08 23:54 .. 2024-08-09 00:05 (receive times), loaded with `sniper ingest recording`,
then one `sniper backfill run`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import REALDATA, run_cli

CAPTURES = [REALDATA / "binance-websocket" / f"spot_btcusdt_2024080{day}.gz" for day in (8, 9)]
SEAM_BUCKET = datetime(2024, 8, 9, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def recorded(module_database):
    loaded = run_cli("ingest", "recording", *map(str, CAPTURES))
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    backfilled = run_cli("backfill", "run", "--weeks", "2", "--sleep", "0")
    assert backfilled.returncode == 0, backfilled.stderr[-3000:]
    return module_database, backfilled


@pytest.mark.slow
def test_one_backfill_run_materializes_the_recorded_buckets(recorded):
    database, _ = recorded
    # Every 5m bucket holding a recorded trade is materialized, each with all its trades:
    # counted here from raw.trades, independently of the candle SQL.
    expected = dict(database.rows(
        "select to_timestamp(floor(extract(epoch from ts) / 300) * 300), count(*)"
        " from raw.trades where symbol = 'BTCUSDT' group by 1"
    ))
    candles = dict(database.rows("select bucket_start_at, trade_count from candles.candles_5m where symbol = 'BTCUSDT'"))
    assert candles == expected and len(candles) >= 3
    assert run_cli("backfill", "plan").stdout.strip().startswith("nothing to plan")


@pytest.mark.slow
def test_adjacent_recordings_make_the_bucket_across_their_seam_complete(recorded):
    database, _ = recorded
    spans = database.rows("select covered_from_at, covered_until_at, load_count from candles.trade_coverage")
    assert len(spans) == 1 and spans[0][2] == 2, spans  # the two captures are one covered span
    complete = dict(database.rows("select bucket_start_at, is_complete from candles.candles_5m where symbol = 'BTCUSDT'"))
    assert complete[SEAM_BUCKET] is True
    # The first capture starts at 23:54:13 (receive time): the 23:50 bucket was only partly
    # recorded, so it is incomplete, never silently whole.
    assert complete[datetime(2024, 8, 8, 23, 50, tzinfo=UTC)] is False
    first_covered = spans[0][0]
    assert first_covered > datetime(2024, 8, 8, 23, 50, tzinfo=UTC)


@pytest.mark.slow
def test_a_recording_alone_leaves_its_first_bucket_incomplete(database):
    """Without the first capture, the seam bucket starts 1.7 ms into the second one."""
    loaded = run_cli("ingest", "recording", str(CAPTURES[1]))
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    first_event = database.scalar("select first_ts from raw.load_ledger")
    assert first_event > SEAM_BUCKET
    result = run_cli("dbt", "build", "--select", "+candles_5m", "--vars", '{"window_start": "2024-08-09", "window_days": 1}')
    assert result.returncode == 0, result.stdout[-3000:]
    assert database.scalar(
        "select is_complete from candles.candles_5m where bucket_start_at = %s", (SEAM_BUCKET,)
    ) is False
