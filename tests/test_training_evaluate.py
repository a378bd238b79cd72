"""The evaluation loop on a hand-built dataset whose edge is known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sniper.training.evaluate import EvaluationConfig, evaluate, trade_metrics
from sniper.training.models import XGBoostParams

REGIMES = {1: "bull", 2: "bear", 3: "sideways", 4: "bull", 5: "bear", 6: "sideways"}


def _dataset(edge: float, seed: int = 1) -> pd.DataFrame:
    """Hourly entries over six months for two symbols; `edge` sets how well `signal` predicts."""
    rng = np.random.default_rng(seed)
    frames = []
    for symbol in ("AAAUSDT", "BBBUSDT"):
        entry = pd.date_range("2024-01-01", "2024-06-30 23:00", freq="1h", tz="UTC")
        signal = rng.standard_normal(len(entry))
        noise = rng.standard_normal(len(entry))
        long_wins = rng.random(len(entry)) < 1 / (1 + np.exp(-edge * signal))
        short_wins = rng.random(len(entry)) < 1 / (1 + np.exp(edge * signal))
        frames.append(
            pd.DataFrame(
                {
                    "instrument": symbol,
                    "bucket_start_at": entry - pd.Timedelta(minutes=5),
                    "entry_at": entry,
                    "signal": signal,
                    "noise": noise,
                    "long_net_return": np.where(long_wins, 0.003, -0.003),
                    "short_net_return": np.where(short_wins, 0.003, -0.003),
                    "long_exit_at": entry + pd.Timedelta(minutes=20),
                    "short_exit_at": entry + pd.Timedelta(minutes=20),
                    "month_regime": [REGIMES[m] for m in entry.month],
                }
            )
        )
    return pd.concat(frames).sort_values(["entry_at", "instrument"]).reset_index(drop=True)


FAST = EvaluationConfig(params=XGBoostParams(n_estimators=25, max_depth=2))


def _walk_forward_trades(results) -> pd.DataFrame:
    return pd.concat([r.trades for r in results if r.kind == "walk_forward"], ignore_index=True)


def test_a_planted_edge_is_found_out_of_sample():
    results = evaluate(_dataset(edge=2.0), ["signal", "noise"], FAST)
    kinds = [r.kind for r in results]
    assert kinds.count("walk_forward") == 1  # 4 months train, 2 test, in 6 months
    assert sorted(r.fold.regime for r in results if r.kind == "unseen_regime") == ["bear", "bull", "sideways"]
    trades = _walk_forward_trades(results)
    # The test months are May and June only.
    assert set(trades["entry_at"].dt.month) <= {5, 6}
    win_rate = (trades["net_return"] > 0).mean()
    assert len(trades) > 100 and win_rate > 0.62
    importance = results[0].importance
    assert importance["signal"] > importance["noise"]


def test_no_edge_means_no_better_than_the_coin_out_of_sample():
    data = _dataset(edge=0.0)
    results = evaluate(data, ["signal", "noise"], FAST)
    trades = _walk_forward_trades(results)
    assert len(trades) > 0
    win_rate = (trades["net_return"] > 0).mean()
    # The coins of the test months themselves: a strategy without information cannot
    # beat the better of the two sides by more than binomial noise (3 standard errors).
    test = data[data["entry_at"].dt.month >= 5]
    best_side = max((test["long_net_return"] > 0).mean(), (test["short_net_return"] > 0).mean())
    assert win_rate < best_side + 3 * np.sqrt(0.25 / len(trades))


def test_the_threshold_is_chosen_without_looking_at_the_test_months():
    data = _dataset(edge=2.0)
    before = evaluate(data, ["signal", "noise"], FAST)
    scrambled = data.copy()
    test_rows = scrambled["entry_at"].dt.month >= 5
    scrambled.loc[test_rows, ["long_net_return", "short_net_return"]] *= -1
    after = evaluate(scrambled, ["signal", "noise"], FAST)
    assert before[0].kind == after[0].kind == "walk_forward"
    assert before[0].threshold == after[0].threshold
    # ...while the out-of-sample result does change: the test labels are really used for testing.
    assert (after[0].trades["net_return"] > 0).mean() < 0.4


def test_trade_metrics_of_no_trades_are_undefined_not_zero():
    empty = pd.DataFrame({"net_return": [], "side": []})
    values = trade_metrics(empty, pd.Series([0.0, 0.0, 0.0]))
    assert values["n_trades"] == 0
    assert np.isnan(values["win_rate"]) and np.isnan(values["long_share"])
    assert values["max_drawdown"] == pytest.approx(0.0)


def test_summary_reports_months_regimes_and_an_honest_verdict():
    from sniper.training.summary import summarize

    data = _dataset(edge=2.0)
    results = evaluate(data, ["signal", "noise"], FAST)
    summary = summarize(results, data["month_regime"].value_counts().to_dict(), n_threshold_candidates=46)
    assert [m.month for m in summary.months] == ["2024-05", "2024-06"]
    assert [m.regime for m in summary.months] == ["bear", "sideways"]
    month_rows = summary.metric_rows[summary.metric_rows["scope"] == "month"]
    trades = _walk_forward_trades(results)
    may = trades[trades["entry_at"].dt.month == 5]
    assert month_rows.set_index("scope_key").loc["2024-05", "n_trades"] == len(may)
    assert month_rows.set_index("scope_key").loc["2024-05", "win_rate"] == pytest.approx((may["net_return"] > 0).mean())
    unseen = summary.metric_rows[summary.metric_rows["evaluation"] == "unseen_regime"]
    assert sorted(unseen["scope_key"]) == ["bear", "bull", "sideways"]
    # Two test months cannot satisfy "win rate over the last 3 test months": keep collecting.
    assert summary.gate.verdict == "KEEP COLLECTING DATA" and summary.gate.exit_code == 3
    win = summary.gate.criterion("win_rate")
    assert not win.passed and "only 2 of 3" in win.note
