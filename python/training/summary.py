"""From fold results to what a run reports: metrics per test month and per regime, the
overall walk-forward figures (Deflated Sharpe, probability of backtest overfitting, the test
against baselines), alarms, the data diagnosis and the readiness gate."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sniper.training import metrics
from sniper.training.baselines import BaselineTest, baseline_tests, combined_p_value
from sniper.training.evaluate import EvaluationConfig, FoldResult, trade_metrics
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
from sniper.training.overfitting import pbo_or_reason

REGIMES = ("bull", "bear", "sideways")


@dataclass
class RunSummary:
    metric_rows: pd.DataFrame  # evaluation.model_metrics rows (without run_id)
    months: list[MonthResult]
    overall: dict[str, float]
    gate: GateResult
    alarms: list[Alarm]
    diagnosis: Diagnosis
    baseline_tests: list[BaselineTest] = field(default_factory=list)


@dataclass
class WalkForwardDays:
    """The walk-forward test days, fold after fold (a day two folds share appears once per fold),
    under the model, under every threshold candidate and under every baseline. A series that
    ends earlier than its fold's others (its last exit came sooner) returns 0 after its end."""

    model: pd.Series
    trials: pd.DataFrame  # one column per threshold candidate, ascending
    baselines: pd.DataFrame  # one column per baseline


def walk_forward_days(walk_forward: list[FoldResult]) -> WalkForwardDays:
    """The model's, every threshold's and every baseline's daily returns on the same rows."""
    models, trials, baselines = [], [], []
    for result in walk_forward:
        series = [result.daily_returns, *result.trial_daily_returns.values(), *result.baseline_daily_returns.values()]
        days = series[0].index
        for other in series[1:]:
            days = days.union(other.index)
        models.append(_aligned(result.daily_returns, days))
        trials.append(pd.DataFrame({threshold: _aligned(daily, days)
                                    for threshold, daily in sorted(result.trial_daily_returns.items())}, index=days))
        baselines.append(pd.DataFrame({name: _aligned(daily, days)
                                       for name, daily in result.baseline_daily_returns.items()}, index=days))
    if not models:
        return WalkForwardDays(pd.Series(dtype=float), pd.DataFrame(), pd.DataFrame())
    return WalkForwardDays(pd.concat(models), pd.concat(trials).fillna(0.0), pd.concat(baselines).fillna(0.0))


def _aligned(daily: pd.Series, days: pd.Index) -> pd.Series:
    return daily.reindex(days, fill_value=0.0).astype(float)


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


def summarize(results: list[FoldResult], samples_by_regime: dict[str, int], n_threshold_candidates: int,
              config: EvaluationConfig | None = None) -> RunSummary:
    config = config or EvaluationConfig()
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
    days = walk_forward_days(walk_forward)
    overall["pbo"], pbo_note = _pbo(days, config.pbo_blocks)
    tests = baseline_tests(days.model, days.baselines, config.baselines) if len(days.model) else []
    overall["spa_p_value"], spa_note = combined_p_value(tests)
    tested_unseen = any(len(r.trades) for r in unseen)
    gate = readiness_gate(months, sharpe=overall["sharpe"], max_drawdown=overall["max_drawdown"],
                          tested_on_unseen_regime=tested_unseen, pbo=overall["pbo"], pbo_note=pbo_note,
                          spa_p_value=overall["spa_p_value"], spa_note=spa_note)
    alarms = regime_change_alarms(months)
    bias = side_bias_alarm(overall["long_share"]) if not math.isnan(overall["long_share"]) else None
    if bias is not None:
        alarms.append(bias)
    diagnosis = diagnose_data_needs(
        months, sharpe=overall["sharpe"],
        long_share=overall["long_share"] if not math.isnan(overall["long_share"]) else 0.5,
        samples_by_regime={regime: int(samples_by_regime.get(regime, 0)) for regime in REGIMES},
    )
    return RunSummary(pd.DataFrame(rows), months, overall, gate, alarms, diagnosis, tests)


def _pbo(days: WalkForwardDays, n_blocks: int) -> tuple[float, str]:
    """PBO over the threshold candidates' test days, and a note saying what it covered (or why not)."""
    if days.trials.empty:
        return math.nan, "not computed: no walk-forward test day"
    value, reason = pbo_or_reason(days.trials.to_numpy(), n_blocks=n_blocks)
    if reason:
        return value, reason
    rows, columns = days.trials.shape
    used = rows // n_blocks * n_blocks
    left_out = f", the oldest {rows - used} left out" if used < rows else ""
    return value, (f"S={n_blocks}: {math.comb(n_blocks, n_blocks // 2):,} splits of {used} of {rows} test days"
                   f"{left_out}, {columns} thresholds")


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
