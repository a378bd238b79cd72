"""Honest evaluation: walk-forward and leave-one-regime-out folds, each trained, thresholded
on its own training data, simulated on its test data, and summarized by month and regime.

Input is the dataset (one row per instrument and 5m bucket: features, both sides' triple-barrier
outcomes, the month's regime). Nothing here shuffles; every number comes from test rows
that the fold's models never saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from sniper.training import metrics
from sniper.training.baselines import NS_PER_DAY, BaselineConfig, baseline_daily_returns
from sniper.training.fanout import Job, ParallelConfig, Shared, run_jobs
from sniper.training.models import XGBoostParams, model_kind
from sniper.training.overfitting import DEFAULT_BLOCKS
from sniper.training.simulation import SimulationConfig, ThresholdSearch, choose_threshold, simulate
from sniper.training.splits import (
    Fold,
    RegimeSplitConfig,
    WalkForwardConfig,
    leave_one_regime_out_folds,
    walk_forward_folds,
)

SIDES = ("long", "short")


# How a fold tests the model: on the months after its training window, or on a regime it
# never saw (the two kinds of evaluation.model_metrics.evaluation).
EvaluationKind = Literal["walk_forward", "unseen_regime"]


class EvaluationConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = "xgboost"
    params: XGBoostParams = Field(default_factory=XGBoostParams)
    walk_forward: WalkForwardConfig = Field(default_factory=WalkForwardConfig)
    regime_split: RegimeSplitConfig = Field(default_factory=RegimeSplitConfig)
    # Highest mean net return per signal, over thresholds keeping at least 50 signals
    # (docs/evaluation.md, "Calibrating the demo": the summed return picked thresholds that
    # traded thousands of barely-positive entries whose fees sank a sideways month).
    threshold_search: ThresholdSearch = Field(default_factory=lambda: ThresholdSearch(min_trades=50))
    # The newest share of each training window picks the entry threshold, on predictions
    # of models fitted without it; the models are then refitted on the whole window.
    calibration_share: float = Field(default=0.25, gt=0, lt=1)
    # Honesty of the verdict (docs/evaluation.md): the S of the probability of backtest
    # overfitting over the threshold candidates, and the baselines the model must beat.
    pbo_blocks: int = Field(default=DEFAULT_BLOCKS, ge=2, multiple_of=2)
    baselines: BaselineConfig = Field(default_factory=BaselineConfig)
    # False: a row missing any feature is left out (every feature of every row is known).
    # True (`sniper train --allow-missing-features`): rows keep their NaN, which XGBoost sends
    # down the branch it learned for "missing" at each split.
    keep_missing_features: bool = False


@dataclass
class FoldResult:
    kind: EvaluationKind
    fold: Fold
    threshold: float | None  # None: the training data justified no threshold, no trades
    scored: pd.DataFrame  # one row per test bucket and side with its win probability
    trades: pd.DataFrame
    daily_returns: pd.Series
    equity: pd.Series
    importance: dict[str, float] = field(default_factory=dict)
    # Walk-forward folds only: the test period's daily returns under every threshold the
    # search could have chosen (the trials the Deflated Sharpe Ratio deflates for).
    trial_daily_returns: dict[float, pd.Series] = field(default_factory=dict)
    # Walk-forward folds only: the same test days traded at random, always long and always
    # short, as often as the model traded (sniper.training.baselines).
    baseline_daily_returns: dict[str, pd.Series] = field(default_factory=dict)


def _wins(frame: pd.DataFrame, side: str) -> np.ndarray:
    return (frame[f"{side}_net_return"] > 0).to_numpy()


def fit_side(train: pd.DataFrame, features: list[str], config: EvaluationConfig, side: str):
    """One side's model, fitted on ``train`` (both sides are independent jobs, python/training/fanout.py)."""
    return model_kind(config.model)(config.params).fit(train[features], _wins(train, side))


def fit_sides(train: pd.DataFrame, features: list[str], config: EvaluationConfig) -> dict:
    return {side: fit_side(train, features, config, side) for side in SIDES}


def score(frame: pd.DataFrame, models: dict, features: list[str]) -> pd.DataFrame:
    """One row per bucket and side: what the simulation and the predictions table need."""
    parts = []
    for side in SIDES:
        parts.append(
            pd.DataFrame(
                {
                    "instrument": frame["instrument"].to_numpy(),
                    # UTC DatetimeArrays: a tz-aware column's plain to_numpy() is one Timestamp object per row.
                    "bucket_start_at": _utc(frame["bucket_start_at"]),
                    "entry_at": _utc(frame["entry_at"]),
                    "side": side,
                    "win_probability": models[side].win_probability(frame[features]).astype(float),
                    "net_return": frame[f"{side}_net_return"].to_numpy(dtype=float),
                    "exit_at": _utc(frame[f"{side}_exit_at"]),
                    "month_regime": frame["month_regime"].to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _utc(column: pd.Series) -> pd.api.extensions.ExtensionArray:
    return pd.to_datetime(column, utc=True).array


def choose_fold_threshold(train: pd.DataFrame, features: list[str], config: EvaluationConfig) -> float | None:
    """Fit on the older part of the training window, pick the threshold on its newest part.

    None when the calibration span has too few signals at every candidate threshold: such
    a fold takes no trades rather than trading on an arbitrary threshold.
    """
    cut = train["entry_at"].quantile(1 - config.calibration_share)
    exits = train[[f"{side}_exit_at" for side in SIDES]].max(axis=1)
    older = train[exits < cut]  # purged: no older label may end inside the calibration span
    newer = train[train["entry_at"] >= cut]
    if older.empty or newer.empty:
        return None
    calibration = score(newer, fit_sides(older, features, config), features)
    choice = choose_threshold(calibration["win_probability"], calibration["net_return"], config.threshold_search)
    return choice.threshold if choice is not None else None


def run_fold(
    data: pd.DataFrame, fold: Fold, kind: EvaluationKind, features: list[str], config: EvaluationConfig
) -> FoldResult:
    train, test = data.iloc[fold.train], data.iloc[fold.test]
    threshold = choose_fold_threshold(train, features, config)
    models = fit_sides(train, features, config)
    scored = score(test, models, features)
    signals = scored if threshold is not None else scored.iloc[0:0]
    result = simulate(signals, SimulationConfig(threshold=threshold if threshold is not None else 1.0),
                      start=scored["entry_at"].min(), end=scored["entry_at"].max())
    importance = {
        column: float(np.mean([models[side].feature_importance().get(column, 0.0) for side in SIDES]))
        for column in features
    }
    context = scored[["instrument", "entry_at", "side", "bucket_start_at", "month_regime"]]
    trades = result.trades.merge(context, on=["instrument", "entry_at", "side"], how="left", validate="one_to_one")
    trials, baselines = {}, {}
    if kind == "walk_forward":
        start, end = scored["entry_at"].min(), scored["entry_at"].max()
        trials = trial_daily_returns(scored, config.threshold_search.candidates)
        # The fold's first test day keys its baseline draws: the same fold draws the same strategies.
        baselines = baseline_daily_returns(scored, trades, start=start, end=end, config=config.baselines,
                                           key=int(start.value // NS_PER_DAY))
    return FoldResult(kind, fold, threshold, scored, trades, result.daily_returns, result.equity, importance, trials,
                      baselines)


def trial_daily_returns(scored: pd.DataFrame, candidates) -> dict[float, pd.Series]:
    """Daily returns of the test period had each candidate threshold been the one chosen."""
    start, end = scored["entry_at"].min(), scored["entry_at"].max()
    return {
        float(threshold): simulate(scored, SimulationConfig(threshold=threshold), start=start, end=end).daily_returns
        for threshold in sorted(candidates)
    }


def fold_jobs(data: pd.DataFrame, features: list[str], config: EvaluationConfig) -> list[Job]:
    """One independent job per fold: every walk-forward fold, then one per left-out regime
    (rows must be time-ordered)."""
    usable = usable_rows(data, features, config).reset_index(drop=True)
    label_end = usable[[f"{side}_exit_at" for side in SIDES]].max(axis=1)
    folds: list[tuple[EvaluationKind, Fold]] = [
        ("walk_forward", fold) for fold in walk_forward_folds(usable["entry_at"], label_end, config.walk_forward)
    ]
    folds += [
        ("unseen_regime", fold)
        for fold in leave_one_regime_out_folds(
            usable["entry_at"], label_end, usable["month_regime"], groups=usable["instrument"],
            config=config.regime_split,
        )
    ]
    rows = Shared(usable)  # every fold reads the same rows: sent to a cluster once
    return [Job(f"{kind}-{fold.name}", run_fold, (rows, fold, kind, features, config)) for kind, fold in folds]


def evaluate(
    data: pd.DataFrame,
    features: list[str],
    config: EvaluationConfig | None = None,
    parallel: ParallelConfig | None = None,
) -> list[FoldResult]:
    """Every walk-forward fold, then one fold per left-out regime, where ``parallel`` says."""
    return run_jobs(fold_jobs(data, features, config or EvaluationConfig()), parallel)


def usable_rows(data: pd.DataFrame, features: list[str], config: EvaluationConfig) -> pd.DataFrame:
    """The rows a model may learn from and be tested on: both labels known, and every feature
    unless missing features are kept."""
    required = ["long_net_return", "short_net_return"]
    return data.dropna(subset=required if config.keep_missing_features else [*features, *required])


def trade_metrics(trades: pd.DataFrame, daily_returns: pd.Series) -> dict[str, float]:
    """The numbers reported for any slice of test trades and the daily returns they made."""
    returns = trades["net_return"].to_numpy(dtype=float) if len(trades) else np.array([])
    daily = daily_returns.to_numpy(dtype=float)
    return {
        "n_trades": metrics.n_trades(returns),
        "win_rate": metrics.win_rate(returns) if len(returns) else float("nan"),
        "expectancy": metrics.expectancy(returns) if len(returns) else float("nan"),
        "profit_factor": metrics.profit_factor(returns) if len(returns) else float("nan"),
        "long_share": metrics.long_share(trades["side"]) if len(trades) else float("nan"),
        "sharpe": metrics.sharpe_ratio(daily) if len(daily) > 1 else float("nan"),
        "sortino": metrics.sortino_ratio(daily) if len(daily) > 1 else float("nan"),
        "max_drawdown": metrics.max_drawdown(daily) if len(daily) else float("nan"),
    }
