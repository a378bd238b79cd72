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
from tests.raw_perturbation import perturb_raw_from

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

    perturb_raw_from(database, cutoff)
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
