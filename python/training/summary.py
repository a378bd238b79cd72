"""From fold results to what a run reports: metrics per test month and per regime, the
overall walk-forward figures, alarms, the data diagnosis and the readiness gate."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sniper.training import metrics
from sniper.training.evaluate import FoldResult, trade_metrics
from sniper.training.gate import (
    Alarm,
    Diagnosis,
    GateResult,
    MonthResult,
    diagnose_data_needs,
    readiness_gate,
    regime_change_alarms,
    side_bias_alarm,
)

REGIMES = ("bull", "bear", "sideways")


@dataclass
class RunSummary:
    metric_rows: pd.DataFrame  # evaluation.model_metrics rows (without run_id)
    months: list[MonthResult]
    overall: dict[str, float]
    gate: GateResult
    alarms: list[Alarm]
    diagnosis: Diagnosis


def _month_of(times: pd.Series) -> pd.Series:
    return times.dt.strftime("%Y-%m")


def _daily_in(daily: pd.Series, month: str) -> pd.Series:
    return daily[daily.index.strftime("%Y-%m") == month]


def _row(evaluation: str, scope: str, key: str, regime: str | None, trades, daily) -> dict:
    return {"evaluation": evaluation, "scope": scope, "scope_key": key, "regime": regime,
            **trade_metrics(trades, daily)}


def _dominant_regime(scored: pd.DataFrame) -> str | None:
    counts = scored["month_regime"].dropna().value_counts()
    return str(counts.index[0]) if len(counts) else None


def summarize(results: list[FoldResult], samples_by_regime: dict[str, int], n_threshold_candidates: int) -> RunSummary:
    walk_forward = [r for r in results if r.kind == "walk_forward"]
    unseen = [r for r in results if r.kind == "unseen_regime"]
    rows: list[dict] = []
    months: list[MonthResult] = []

    wf_trades = pd.concat([r.trades for r in walk_forward], ignore_index=True) if walk_forward else pd.DataFrame()
    wf_daily = pd.concat([r.daily_returns for r in walk_forward]).sort_index() if walk_forward else pd.Series(dtype=float)
    for result in walk_forward:
        rows.append(_row("walk_forward", "fold", result.fold.name, None, result.trades, result.daily_returns))
        for month in result.fold.test_months:
            in_month = result.trades[_month_of(result.trades["entry_at"]) == month] if len(result.trades) else result.trades
            scored = result.scored[_month_of(result.scored["entry_at"]) == month]
            regime = _dominant_regime(scored)
            rows.append(_row("walk_forward", "month", month, regime, in_month, _daily_in(result.daily_returns, month)))
            wins = int((in_month["net_return"] > 0).sum()) if len(in_month) else 0
            months.append(MonthResult(month=month, n_trades=len(in_month), n_wins=wins, regime=regime))
    month_regime = {month.month: month.regime for month in months}
    for regime in REGIMES:
        if len(wf_trades):
            in_regime = wf_trades[wf_trades["month_regime"] == regime]
            days = wf_daily[[month_regime.get(m) == regime for m in wf_daily.index.strftime("%Y-%m")]]
            if len(in_regime):
                rows.append(_row("walk_forward", "regime", regime, regime, in_regime, days))
    for result in unseen:
        rows.append(_row("unseen_regime", "regime", result.fold.regime, result.fold.regime, result.trades,
                         result.daily_returns))
    rows.append(_row("walk_forward", "overall", "all", None, wf_trades if len(wf_trades) else
                     pd.DataFrame({"net_return": [], "side": []}), wf_daily))

    overall = _overall(wf_trades, wf_daily, results, n_threshold_candidates)
    tested_unseen = any(len(r.trades) for r in unseen)
    gate = readiness_gate(months, sharpe=overall["sharpe"], max_drawdown=overall["max_drawdown"],
                          tested_on_unseen_regime=tested_unseen)
    alarms = regime_change_alarms(months)
    bias = side_bias_alarm(overall["long_share"]) if not math.isnan(overall["long_share"]) else None
    if bias is not None:
        alarms.append(bias)
    diagnosis = diagnose_data_needs(
        months, sharpe=overall["sharpe"],
        long_share=overall["long_share"] if not math.isnan(overall["long_share"]) else 0.5,
        samples_by_regime={regime: int(samples_by_regime.get(regime, 0)) for regime in REGIMES},
    )
    return RunSummary(pd.DataFrame(rows), months, overall, gate, alarms, diagnosis)


def _overall(trades: pd.DataFrame, daily: pd.Series, results: list[FoldResult], n_candidates: int) -> dict:
    values = trade_metrics(trades if len(trades) else pd.DataFrame({"net_return": [], "side": []}), daily)
    returns = daily.to_numpy(dtype=float)
    # Deflation (Bailey & Lopez de Prado 2014): the trials are the thresholds the search
    # could have chosen; their Sharpe ratios over the same walk-forward test days give the
    # variance, their number N. The selected run's returns are then tested against the
    # expected maximum Sharpe of N trials with no skill.
    trial_sharpes = _trial_sharpes(results)
    n_trials = max(2, n_candidates)
    variance = float(np.var(trial_sharpes, ddof=1)) if len(trial_sharpes) > 1 else math.nan
    enough = len(returns) > 2 and np.std(returns) > 0
    values["probabilistic_sharpe"] = metrics.probabilistic_sharpe_ratio(returns) if enough else float("nan")
    values["deflated_sharpe"] = (
        metrics.deflated_sharpe_ratio(returns, n_trials=n_trials, trials_sharpe_variance=variance)
        if enough and not math.isnan(variance) else float("nan")
    )
    return values


def _trial_sharpes(results: list[FoldResult]) -> list[float]:
    """Annualized Sharpe ratio of each threshold over all walk-forward test days."""
    by_threshold: dict[float, list[pd.Series]] = {}
    for result in results:
        for threshold, daily in result.trial_daily_returns.items():
            by_threshold.setdefault(threshold, []).append(daily)
    sharpes = [
        metrics.sharpe_ratio(pd.concat(parts).to_numpy(dtype=float)) for parts in by_threshold.values()
    ]
    return [sharpe for sharpe in sharpes if not math.isnan(sharpe)]
