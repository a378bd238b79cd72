"""The candles' dbt tests on a real database: they pass on good candles and fail on bad ones.

A one-symbol synthetic week is built with `dbt build` (models, unit tests, data tests);
then single rows are broken by hand and the test meant to catch each one must fail. The
exchange-klines comparison sees the daily klines the synthetic market publishes and
hourly klines computed here with pandas from the raw trades.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from sniper.warehouse import invoke_dbt
from tests.test_candles_reference import bucket_start, read_trades

pytestmark = pytest.mark.slow

WINDOW = {"window_start": "2024-06-03"}


@pytest.fixture(scope="module")
def built(module_database, tmp_path_factory):
    with module_database.connect(autocommit=True) as conn:
        generate(conn, SynthConfig(symbols=["BTCUSDT"], start=date(2024, 6, 3), months=1, days=7, trades_per_day=2_000))
    module_database.target_path = str(tmp_path_factory.mktemp("dbt-target"))
    result = invoke_dbt(["build", "--select", "+candles", "--target-path", module_database.target_path], WINDOW)
    failures = [f"{r.node.name}: {r.status} {r.message}" for r in result.result or [] if str(r.status) not in ("success", "pass")]
    assert result.success, failures or result.exception
    module_database.built_nodes = [(r.node.resource_type, r.node.name) for r in result.result]
    return module_database


def failing_tests(db, select: str) -> list[str]:
    result = invoke_dbt(["test", "--select", select, "--target-path", db.target_path], WINDOW)
    return sorted(r.node.name for r in result.result or [] if str(r.status) not in ("success", "pass"))


def test_build_ran_the_candle_unit_tests_and_data_tests(built):
    names = {r[0] for r in built.rows("select table_name from information_schema.tables where table_schema = 'candles'")}
    assert {f"candles_{t}" for t in ("5m", "15m", "1h", "4h", "1d", "1w", "1mo")} <= names
    unit_tests = {name for kind, name in built.built_nodes if str(kind) == "unit_test" and name.startswith("candles_")}
    assert len(unit_tests) >= 8, unit_tests
    data_tests = {name for kind, name in built.built_nodes if str(kind) == "test"}
    for test_name in ("candles_5m_reconcile_with_trades", "candles_1h_rollup_matches_trades", "candles_match_klines"):
        assert test_name in data_tests
    assert sum(name.startswith("candle_consistent_candles_") for name in data_tests) == 7


BREAKAGES = {
    "candle_consistent_candles_5m_": "update candles.candles_5m set low = high + 1"
    " where bucket_start_at = '2024-06-04 12:00+00'",
    "bucket_aligned_candles_1h_": "update candles.candles_1h set bucket_start_at = bucket_start_at + interval '5 minutes'"
    " where bucket_start_at = '2024-06-04 12:00+00'",
    "candles_5m_reconcile_with_trades": "update candles.candles_5m set trade_count = trade_count + 1"
    " where bucket_start_at = '2024-06-05 08:00+00'",
    "candles_1h_rollup_matches_trades": "update candles.candles_1h set close = close * 1.01"
    " where bucket_start_at = '2024-06-06 09:00+00'",
}


def test_data_tests_fail_on_broken_candles(built):
    with built.connect() as conn:
        for breakage in BREAKAGES.values():
            assert conn.execute(breakage).rowcount == 1
        conn.commit()
    failed = failing_tests(built, "candles")
    # Undo: the window computed again from the ticks (force_recompute replaces it whole).
    restore = invoke_dbt(
        ["run", "--select", "candles", "--target-path", built.target_path], {**WINDOW, "force_recompute": True}
    )
    assert restore.success
    for test_name in BREAKAGES:
        assert any(name.startswith(test_name) for name in failed), (test_name, failed)
    assert failing_tests(built, "candles") == []


def expected_klines(trades: pd.DataFrame, interval: str) -> pd.DataFrame:
    """Binance-style klines of the trades, straight from pandas."""
    trades = trades.sort_values(["ts", "trade_id"], kind="stable").copy()
    trades["open_at"] = bucket_start(trades.ts, interval)
    trades["buy_qty"] = np.where(trades.is_buyer_maker, 0.0, trades.qty)
    trades["buy_quote"] = np.where(trades.is_buyer_maker, 0.0, trades.quote_qty)
    grouped = trades.groupby("open_at")
    frame = pd.DataFrame(
        {
            "open": grouped.price.first(),
            "high": grouped.price.max(),
            "low": grouped.price.min(),
            "close": grouped.price.last(),
            "volume": grouped.qty.sum(),
            "quote_volume": grouped.quote_qty.sum(),
            "trade_count": grouped.size(),
            "taker_buy_volume": grouped.buy_qty.sum(),
            "taker_buy_quote_volume": grouped.buy_quote.sum(),
        }
    ).reset_index()
    frame["interval"] = interval
    return frame


def test_candles_match_exchange_klines_and_the_test_catches_a_wrong_one(built):
    with built.connect() as conn:
        trades = read_trades(conn, "BTCUSDT")
        days = pd.Timestamp("2024-06-03", tz="UTC"), pd.Timestamp("2024-06-10", tz="UTC")
        trades = trades[(trades.ts >= days[0]) & (trades.ts < days[1])]
        klines = expected_klines(trades, "1h")
        for row in klines.itertuples():
            conn.execute(
                "insert into raw.klines (exchange, market, symbol, interval, open_at, close_at, open, high, low, close,"
                " volume, quote_volume, trade_count, taker_buy_volume, taker_buy_quote_volume)"
                " values ('synthetic', 'spot', 'BTCUSDT', %s, %s, %s - interval '1 millisecond', %s, %s, %s, %s,"
                " %s, %s, %s, %s, %s)",
                (row.interval, row.open_at, row.open_at + pd.Timedelta(hours=1), row.open,
                 row.high, row.low, row.close, row.volume, row.quote_volume, int(row.trade_count),
                 row.taker_buy_volume, row.taker_buy_quote_volume),
            )  # fmt: skip
        conn.commit()
    assert len(klines) == 7 * 24
    assert built.scalar("select count(*) from raw.klines where interval = '1d'") == 7  # the synthetic market's own
    try:
        assert failing_tests(built, "candles_match_klines") == []
        with built.connect() as conn:
            conn.execute("update raw.klines set close = close + 1 where interval = '1h' and open_at = '2024-06-04 12:00+00'")
            conn.commit()
        assert failing_tests(built, "candles_match_klines") == ["candles_match_klines"]
    finally:
        with built.connect() as conn:
            conn.execute("delete from raw.klines where interval = '1h'")
            conn.commit()
