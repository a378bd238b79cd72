"""No look-ahead: every feature of a bucket uses only data timestamped before its end.

Everything in the raw tables at or after a bucket end T is perturbed (sizes, prices, sides,
depth, greeks and open interest changed; new trades and quotes inserted exactly at T), the
same window is recomputed, and every bucket that ends by T must come out unchanged, in the
5-minute, 15-minute and hourly tables. T is chosen inside a planted iceberg, in the middle
of an hour of options chains and of a rolling-CVD span, so the levels, snapshots and
running sums that straddle it are exercised.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from sniper.warehouse import invoke_dbt

CONFIG = SynthConfig(symbols=["BTCUSDT"], start=date(2024, 7, 1), months=1, days=2, seed=6,
                     trades_per_day=4_000, icebergs_per_day=12)
WINDOW = {"window_start": "2024-07-01", "window_days": 2}
TABLES = {"features_5m": "5min", "features_15m": "15min", "features_1h": "60min"}
SELECTION = ["run", "--select", "+features_15m", "+features_1h", "+iceberg_events"]


def _snapshot(db) -> dict[str, pd.DataFrame]:
    return {
        table: db.frame(f"select * from features.{table} order by symbol, bucket_start_at")
        for table in TABLES
    }


def _bucket_end_inside_an_iceberg(db) -> pd.Timestamp:
    truth = db.frame("select started_at, ended_at from synth.iceberg_truth order by started_at")
    for started, ended in zip(truth["started_at"], truth["ended_at"]):
        boundary = started.ceil("5min")
        if boundary < ended:
            return boundary
    pytest.fail("no planted iceberg crosses a 5-minute boundary")


def _perturb_from(db, cutoff: pd.Timestamp) -> None:
    with db.connect() as conn:
        conn.execute(
            "insert into raw.trades select exchange, market, symbol, trade_id + 1000000000000, %s, price * 0.97,"
            " qty * 50, quote_qty * 48.5, not is_buyer_maker from raw.trades where ts >= %s"
            " order by ts limit 20", (cutoff, cutoff),
        )
        conn.execute(
            "update raw.trades set qty = qty * 3, quote_qty = quote_qty * 3 * 1.01, price = price * 1.01,"
            " is_buyer_maker = not is_buyer_maker where ts >= %s", (cutoff,),
        )
        conn.execute(
            "insert into raw.l1_quotes select exchange, market, symbol, update_id + 1000000000000, %s,"
            " bid_price * 0.99, bid_qty * 9, ask_price * 1.01, ask_qty / 9 from raw.l1_quotes where ts >= %s"
            " order by ts limit 5", (cutoff, cutoff),
        )
        conn.execute(
            "update raw.l1_quotes set bid_qty = bid_qty * 2, ask_qty = ask_qty / 2, bid_price = bid_price + 0.5,"
            " ask_price = ask_price + 0.5 where ts >= %s", (cutoff,),
        )
        conn.execute("update raw.depth_bands set depth = depth * 3 where side = 'bid' and ts >= %s", (cutoff,))
        conn.execute(
            "update raw.options_chain set gamma = gamma * 5, open_interest = open_interest + 100,"
            " mark_iv = mark_iv * 1.5 where ts >= %s", (cutoff,),
        )


def _assert_same(before: pd.DataFrame, after: pd.DataFrame, label: str) -> None:
    assert len(before) == len(after) and len(before) > 0, label
    for column in before.columns:
        left, right = before[column], after[column]
        if pd.api.types.is_numeric_dtype(left) and not pd.api.types.is_bool_dtype(left):
            same = np.isclose(left.astype(float), right.astype(float), rtol=1e-12, atol=1e-12, equal_nan=True)
        else:
            same = (left == right) | (left.isna() & right.isna())
        assert bool(np.all(same)), f"{label}.{column} changed for a bucket that ends before the perturbation"


def test_features_of_buckets_ending_by_t_ignore_everything_after_t(database):
    with database.connect(autocommit=True) as conn:
        generate(conn, CONFIG)
    assert invoke_dbt(SELECTION, WINDOW).success
    before = _snapshot(database)
    cutoff = _bucket_end_inside_an_iceberg(database)

    _perturb_from(database, cutoff)
    assert invoke_dbt(SELECTION, {**WINDOW, "force_recompute": True}).success
    after = _snapshot(database)

    for table, length in TABLES.items():
        ends = before[table]["bucket_start_at"] + pd.Timedelta(length)
        done = ends <= cutoff
        assert after[table]["bucket_start_at"].equals(before[table]["bucket_start_at"])
        _assert_same(before[table][done].reset_index(drop=True), after[table][done].reset_index(drop=True), table)
        # The perturbation did reach the later buckets (otherwise the test proves nothing).
        changed = ~np.isclose(before[table].loc[~done, "volume_delta"].astype(float),
                              after[table].loc[~done, "volume_delta"].astype(float), equal_nan=True)
        assert changed.mean() > 0.5, table
    later = before["features_5m"]["bucket_start_at"] >= cutoff
    for column in ("ofi", "obi_l1_twap", "obi_depth_1pct", "gamma_exposure", "whale_volume_delta"):
        assert not np.allclose(before["features_5m"].loc[later, column].astype(float),
                               after["features_5m"].loc[later, column].astype(float), equal_nan=True), column
