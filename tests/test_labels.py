"""Triple-barrier labels (models/ml/labels_5m.sql) against an independent numpy computation.

Three days of synthetic candles are built by dbt; the test recomputes every label from
the candles table with the rules written in the model's header (volatility of the last
N complete buckets' log returns scaled to the horizon, no label before N returns exist,
barriers at multiples of it, the first barrier touched within N buckets, a tie counted as
the stop, returns net of a fee per side, exit at the touching bucket's close) and
compares row by row.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from sniper.dbt_vars import ProjectVars
from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from sniper.warehouse import invoke_dbt

VARS = ProjectVars()
HORIZON = VARS.label_horizon_buckets
LOOKBACK = VARS.label_vol_lookback_buckets
TAKE_PROFIT, STOP_LOSS, FEE = VARS.label_take_profit_vol, VARS.label_stop_loss_vol, VARS.label_fee_per_side
STEP = pd.Timedelta(minutes=5)


@pytest.fixture(scope="module")
def labelled(module_database):
    config = SynthConfig(symbols=["BTCUSDT"], start=date(2024, 7, 1), months=1, days=3, trades_per_day=1_500, seed=3)
    with module_database.connect(autocommit=True) as conn:
        generate(conn, config)
    result = invoke_dbt(
        ["run", "--select", "+labels_5m"],
        {"window_start": "2024-07-01", "window_days": 3},
    )
    assert result.success
    candles = module_database.frame(
        "select symbol, bucket_start_at, high, low, close, is_complete from candles.candles_5m order by 1, 2"
    )
    labels = module_database.frame("select * from ml.labels_5m order by symbol, bucket_start_at")
    return candles, labels


def _expected(candles: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for symbol, frame in candles.groupby("symbol"):
        frame = frame.set_index("bucket_start_at").sort_index()
        log_return = np.log(frame["close"] / frame["close"].shift(1))
        complete = frame[frame["is_complete"]].assign(log_return=log_return[frame["is_complete"]])
        # Rolling over the last LOOKBACK complete buckets, all LOOKBACK returns present.
        vol = complete["log_return"].rolling(LOOKBACK, min_periods=LOOKBACK).std(ddof=1) * math.sqrt(HORIZON)
        for start, entry in complete["close"].items():
            horizon_vol = vol[start]
            if not horizon_vol > 0:
                continue
            path = frame.reindex([start + STEP * k for k in range(1, HORIZON + 1)])
            if path["close"].isna().all():
                continue  # no candle after the entry yet: no label row
            sides = {}
            for side, up, down in (("long", TAKE_PROFIT, STOP_LOSS), ("short", STOP_LOSS, TAKE_PROFIT)):
                upper, lower = entry * math.exp(up * horizon_vol), entry * math.exp(-down * horizon_vol)
                hits_up = [k for k in range(1, HORIZON + 1) if path["high"].iloc[k - 1] >= upper]
                hits_down = [k for k in range(1, HORIZON + 1) if path["low"].iloc[k - 1] <= lower]
                profit, stop = (hits_up, hits_down) if side == "long" else (hits_down, hits_up)
                profit_step, stop_step = min(profit, default=None), min(stop, default=None)
                if stop_step is not None and (profit_step is None or stop_step <= profit_step):
                    outcome, step = "stop_loss", stop_step
                    gross = math.exp(-STOP_LOSS * horizon_vol) - 1 if side == "long" else 1 - math.exp(STOP_LOSS * horizon_vol)
                elif profit_step is not None:
                    outcome, step = "take_profit", profit_step
                    gross = math.exp(TAKE_PROFIT * horizon_vol) - 1 if side == "long" else 1 - math.exp(-TAKE_PROFIT * horizon_vol)
                else:
                    outcome, step = "horizon", HORIZON
                    last = path["close"].iloc[-1] / entry
                    gross = last - 1 if side == "long" else 1 - last
                sides[f"{side}_outcome"] = outcome
                sides[f"{side}_net_return"] = gross - 2 * FEE
                sides[f"{side}_exit_at"] = start + STEP + step * STEP
            rows.append({
                "symbol": symbol, "bucket_start_at": start, "entry_price": entry, "horizon_vol": horizon_vol,
                "is_label_complete": bool(path["is_complete"].eq(True).sum() == HORIZON), **sides,
            })
    return pd.DataFrame(rows)


def test_labels_match_an_independent_triple_barrier_computation(labelled):
    candles, labels = labelled
    expected = _expected(candles)
    assert len(labels) == len(expected) > 500
    merged = labels.merge(expected, on=["symbol", "bucket_start_at"], suffixes=("", "_expected"), validate="one_to_one")
    assert len(merged) == len(expected)
    for column in ("long_outcome", "short_outcome", "is_label_complete", "long_exit_at", "short_exit_at"):
        assert (merged[column] == merged[f"{column}_expected"]).all(), column
    for column in ("entry_price", "horizon_vol", "long_net_return", "short_net_return"):
        assert np.allclose(merged[column], merged[f"{column}_expected"], rtol=1e-9, atol=1e-12, equal_nan=True), column
    # The sample is not degenerate: every outcome occurs on both sides.
    for side in ("long", "short"):
        assert set(labels[f"{side}_outcome"]) == {"take_profit", "stop_loss", "horizon"}


def test_entries_are_at_the_close_and_exits_after_them(labelled):
    _, labels = labelled
    assert (labels["entry_at"] == labels["bucket_start_at"] + STEP).all()
    for side in ("long", "short"):
        held = labels[f"{side}_exit_at"] - labels["entry_at"]
        assert held.between(STEP, HORIZON * STEP).all()
