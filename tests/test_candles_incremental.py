"""The candle models on a real database: windows, incremental runs, force_recompute.

One small synthetic market for the module (~2,000 trades a day): BTCUSDT from Saturday
2024-06-01 and ETHUSDT from Monday 2024-06-03, both through 2024-06-24. Two holes
make the bookkeeping visible: BTCUSDT has no trades 2024-06-05 10:00-10:30 (covered time:
empty buckets) and ETHUSDT's 2024-06-12 is not in the load ledger (trades, but not
covered: incomplete buckets). Expected candles come from tests/test_candles_reference.py
(pandas on the raw trades), never from the models.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pandas as pd
import pytest

from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from sniper.warehouse import invoke_dbt
from tests.test_candles_reference import (
    CANDLE_COLUMNS,
    FLOAT_COLUMNS,
    TIMEFRAMES,
    Span,
    assert_candles_equal,
    bucket_start,
    read_candles,
    read_covered_days,
    read_trades,
    reference_candles,
)

pytestmark = pytest.mark.slow

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
FIRST_DAY = {"BTCUSDT": "2024-06-01", "ETHUSDT": "2024-06-03"}
UTC = timezone.utc


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture(scope="module")
def market(module_database, tmp_path_factory):
    with module_database.connect(autocommit=True) as conn:
        generate(conn, SynthConfig(symbols=["BTCUSDT"], start=date(2024, 6, 1), months=1, days=24, trades_per_day=2_000))
        generate(conn, SynthConfig(symbols=["ETHUSDT"], start=date(2024, 6, 3), months=1, days=22, trades_per_day=2_000))
        conn.execute(
            "delete from raw.trades where symbol = 'BTCUSDT'"
            " and ts >= '2024-06-05 10:00+00' and ts < '2024-06-05 10:30+00'"
        )
        conn.execute("delete from raw.load_ledger where symbol = 'ETHUSDT' and first_ts = '2024-06-12 00:00+00'")
    module_database.target_path = str(tmp_path_factory.mktemp("dbt-target"))
    result, failures = dbt(module_database, "run", select="+candles_5m", exclude="candles_5m")
    assert result.success, failures or result.exception
    return module_database


def dbt(market, command: str, select: str = "candles", exclude: str | None = None, **dbt_vars):
    args = [command, "--select", select, "--target-path", market.target_path]
    if exclude:
        args += ["--exclude", exclude]
    result = invoke_dbt(args, dbt_vars or None)
    failures = [f"{r.node.name}: {r.status} {r.message}" for r in (result.result or []) if str(r.status) not in ("success", "pass")]
    return result, failures


def run_candles(market, **dbt_vars) -> None:
    result, failures = dbt(market, "run", **dbt_vars)
    assert result.success, failures or result.exception


def reset(market) -> None:
    with market.connect(autocommit=True) as conn:
        conn.execute("drop schema if exists candles cascade")


def snapshot(market) -> dict[str, pd.DataFrame]:
    with market.connect() as conn:
        return {timeframe: read_candles(conn, timeframe) for timeframe in TIMEFRAMES}


def five_minute_span(market) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    rows = market.rows("select symbol, min(bucket_start_at), max(bucket_start_at) from candles.candles_5m group by symbol")
    return {symbol: (pd.Timestamp(first), pd.Timestamp(last)) for symbol, first, last in rows}


def assert_matches_reference(market, spans: dict[str, Span]) -> None:
    with market.connect() as conn:
        for symbol, span in spans.items():
            trades = read_trades(conn, symbol)
            covered = read_covered_days(conn, symbol)
            for timeframe in TIMEFRAMES:
                expected = reference_candles(trades, covered, span, timeframe)
                assert_candles_equal(read_candles(conn, timeframe, symbol), expected, f"{symbol} {timeframe}")


def changed_keys(before: pd.DataFrame, after: pd.DataFrame, rtol: float = 0.0) -> set[tuple[str, pd.Timestamp]]:
    """Keys whose row differs (or exists on one side only): exactly, or floats within rtol.

    A recomputed float sum may differ in its last bit: PostgreSQL adds a bucket's trades in
    the order its plan reads them (a parallel plan: in the order workers get them).
    """
    merged = before.merge(after, on=["symbol", "bucket_start_at"], how="outer", suffixes=("_before", "_after"), indicator=True)
    changed = merged._merge != "both"
    for column in CANDLE_COLUMNS[2:]:
        b, a = merged[f"{column}_before"], merged[f"{column}_after"]
        same = (b == a) | (b.isna() & a.isna())
        if rtol and column in FLOAT_COLUMNS:
            same |= (b.astype(float) - a.astype(float)).abs() <= rtol * a.astype(float).abs()
        changed |= ~same
    return set(zip(merged.symbol[changed], merged.bucket_start_at[changed]))


def test_adjacent_windows_build_history_like_one_computation(market):
    reset(market)
    run_candles(market, window_start="2024-06-01")
    # Every symbol covers the run's window; ETHUSDT has no trade before 2024-06-03.
    assert five_minute_span(market) == {
        "BTCUSDT": (ts("2024-06-01"), ts("2024-06-07 23:55")),
        "ETHUSDT": (ts("2024-06-03"), ts("2024-06-07 23:55")),
    }
    run_candles(market, window_start="2024-06-08")
    assert five_minute_span(market) == {
        "BTCUSDT": (ts("2024-06-01"), ts("2024-06-14 23:55")),
        "ETHUSDT": (ts("2024-06-03"), ts("2024-06-14 23:55")),
    }
    # Two adjacent windows equal one computation over both, for every timeframe (the weeks
    # and the month that span both windows were rolled up again when the second arrived).
    assert_matches_reference(
        market,
        {
            "BTCUSDT": Span(ts("2024-06-01"), ts("2024-06-15")),
            "ETHUSDT": Span(ts("2024-06-03"), ts("2024-06-15")),
        },
    )
    # Empty (covered, no trade) is a row; uncovered time with trades is incomplete.
    empty = market.rows(
        "select bucket_start_at, is_complete, volume, open = close from candles.candles_5m"
        " where symbol = 'BTCUSDT' and is_empty and bucket_start_at >= '2024-06-05 10:00+00'"
        " and bucket_start_at < '2024-06-05 10:30+00'"
    )
    assert len(empty) == 6 and all(complete and volume == 0 and flat for _, complete, volume, flat in empty)
    assert market.scalar(
        "select bool_and(not is_complete) and count(*) > 0 from candles.candles_5m"
        " where symbol = 'ETHUSDT' and bucket_start_at >= '2024-06-12' and bucket_start_at < '2024-06-13'"
    )
    assert market.scalar(
        "select not is_complete from candles.candles_1w where symbol = 'ETHUSDT' and bucket_start_at = '2024-06-10'"
    )


def test_without_window_start_a_run_covers_the_newest_days_and_keeps_what_exists(market):
    """A plain `dbt run` (no window_start) covers the window_days UTC days up to the newest
    covered instant of the run's symbols: both symbols are loaded through 2024-06-24."""
    reset(market)
    run_candles(market, window_start="2024-06-01", window_days=3)
    run_candles(market)
    days = market.rows(
        "select symbol, (bucket_start_at at time zone 'UTC')::date as day, count(*) from candles.candles_5m"
        " group by 1, 2 order by 1, 2"
    )
    newest = [date(2024, 6, day) for day in range(18, 25)]
    assert [(symbol, day) for symbol, day, _ in days] == [
        ("BTCUSDT", date(2024, 6, day)) for day in (1, 2, 3)
    ] + [("BTCUSDT", day) for day in newest] + [("ETHUSDT", date(2024, 6, 3))] + [("ETHUSDT", day) for day in newest]
    assert {count for _, _, count in days} == {288}
    before = snapshot(market)
    # The newest 3 days of BTCUSDT alone are materialized already: nothing changes.
    run_candles(market, window_days=3, instruments="synthetic:spot:BTCUSDT")
    assert all(changed_keys(before[tf], snapshot(market)[tf]) == set() for tf in TIMEFRAMES)


def test_same_window_twice_changes_nothing(market):
    reset(market)
    for window_start in ("2024-06-01", "2024-06-08"):
        run_candles(market, window_start=window_start)
    before = snapshot(market)
    # The incremental path (force_recompute=false) leaves every row exactly as it was.
    run_candles(market, window_start="2024-06-08")
    kept = snapshot(market)
    for timeframe in TIMEFRAMES:
        assert not changed_keys(before[timeframe], kept[timeframe]), timeframe
    # A forced recompute of the same ticks writes the same candles (float sums to their last bits).
    run_candles(market, window_start="2024-06-08", force_recompute=True)
    after = snapshot(market)
    for timeframe in TIMEFRAMES:
        assert not changed_keys(before[timeframe], after[timeframe], rtol=1e-12), timeframe
    assert_matches_reference(market, {symbol: Span(ts(FIRST_DAY[symbol]), ts("2024-06-15")) for symbol in SYMBOLS})


def test_late_trade_is_picked_up_only_with_force_recompute_and_nothing_outside_the_window_changes(market):
    reset(market)
    run_candles(market, window_start="2024-06-01", window_days=21)
    late_at = datetime(2024, 6, 10, 12, 2, 30, tzinfo=UTC)
    with market.connect(autocommit=True) as conn:
        price = conn.execute(
            "select max(price) * 1.5 from raw.trades where symbol = 'BTCUSDT' and ts >= '2024-06-10' and ts < '2024-06-11'"
        ).fetchone()[0]
        conn.execute(
            "insert into raw.trades (exchange, market, symbol, trade_id, ts, price, qty, quote_qty, is_buyer_maker)"
            " values ('synthetic', 'spot', 'BTCUSDT', 9000000000, %s, %s, 0.5, %s, false)",
            (late_at, price, price * 0.5),
        )
    try:
        before = snapshot(market)
        run_candles(market, window_start="2024-06-08")
        unchanged = snapshot(market)
        for timeframe in TIMEFRAMES:
            assert not changed_keys(before[timeframe], unchanged[timeframe]), f"force_recompute=false changed {timeframe}"

        run_candles(market, window_start="2024-06-08", force_recompute=True)
        after = snapshot(market)
        late = pd.Series([pd.Timestamp(late_at)])
        for timeframe in TIMEFRAMES:
            parent = bucket_start(late, timeframe).iloc[0]
            assert changed_keys(before[timeframe], after[timeframe], rtol=1e-12) == {("BTCUSDT", parent)}, timeframe
        assert_matches_reference(market, {"BTCUSDT": Span(ts("2024-06-01"), ts("2024-06-22"))})
    finally:
        with market.connect(autocommit=True) as conn:
            conn.execute("delete from raw.trades where trade_id = 9000000000")


def test_window_days_and_instruments_vars(market):
    reset(market)
    run_candles(market, window_start="2024-06-03", window_days=3, instruments=["synthetic:spot:ETHUSDT"])
    assert five_minute_span(market) == {"ETHUSDT": (ts("2024-06-03"), ts("2024-06-05 23:55"))}
    assert market.scalar("select count(*) from candles.candles_5m") == 3 * 288
    assert_matches_reference(market, {"ETHUSDT": Span(ts("2024-06-03"), ts("2024-06-06"))})
    # A later window for both, then an earlier one for BTCUSDT alone (the planner takes the
    # newest weeks first): the weeks and the month spanning both are rolled up again.
    run_candles(market, window_start="2024-06-06", window_days=3)
    assert five_minute_span(market) == {
        "BTCUSDT": (ts("2024-06-06"), ts("2024-06-08 23:55")),
        "ETHUSDT": (ts("2024-06-03"), ts("2024-06-08 23:55")),
    }
    run_candles(market, window_start="2024-06-01", window_days=5, instruments="synthetic:spot:BTCUSDT")
    assert five_minute_span(market)["ETHUSDT"] == (ts("2024-06-03"), ts("2024-06-08 23:55"))
    assert_matches_reference(
        market,
        {"BTCUSDT": Span(ts("2024-06-01"), ts("2024-06-09")), "ETHUSDT": Span(ts("2024-06-03"), ts("2024-06-09"))},
    )


def test_contract_columns_and_types(market):
    reset(market)
    run_candles(market, window_start="2024-06-03", window_days=1)
    expected = {
        "exchange": "text", "market": "text", "symbol": "text", "bucket_start_at": "timestamp with time zone", "open": "double precision",
        "high": "double precision", "low": "double precision", "close": "double precision",
        "volume": "double precision", "quote_volume": "double precision", "trade_count": "bigint",
        "taker_buy_volume": "double precision", "taker_sell_volume": "double precision", "vwap": "double precision",
        "first_trade_id": "bigint", "last_trade_id": "bigint", "is_complete": "boolean", "is_empty": "boolean",
    }  # fmt: skip
    for timeframe in TIMEFRAMES:
        columns = market.rows(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'candles' and table_name = %s order by ordinal_position",
            (f"candles_{timeframe}",),
        )
        assert dict(columns) == expected, timeframe
    unique_index = market.scalar(
        "select count(*) from pg_indexes where schemaname = 'candles' and indexdef like 'CREATE UNIQUE INDEX%%'"
        " and indexdef like '%%(exchange, market, symbol, bucket_start_at)%%'"
    )
    assert unique_index == len(TIMEFRAMES)
    timeframes = market.rows("select distinct timeframe from candles.candles_all order by 1")
    assert sorted(t for (t,) in timeframes) == sorted(TIMEFRAMES)
