"""The forward track record: deployed models judged on the buckets that came after their training.

Trades are the signals of ml.forward_outcomes (one side per bucket, its realized net return
from labels_5m once the label completed), chosen and booked by the walk-forward simulation
itself (python/training/simulation.py: one position per instrument, equal stakes, daily
returns over every day), and measured with the same functions (python/training/metrics.py via
``trade_metrics``) and the same rules (python/training/gate.py): the regime-change alarm, the
side-bias alarm and the urgent diagnosis as in training, plus the roadmap's enough-data rule.
The forward win rate is set against the same run's walk-forward win rate with a Wilson interval.

Scopes: a run (every signal of that run, paper or live) and an instrument's model chain (every
signal emitted by whichever run was live for it at the time).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import psycopg

from sniper.training import metrics
from sniper.training.evaluate import trade_metrics
from sniper.training.gate import (
    Alarm,
    Criterion,
    Diagnosis,
    MonthResult,
    WeekResult,
    diagnose_data_needs,
    enough_data,
    regime_change_alarms,
    side_bias_alarm,
)
from sniper.training.simulation import SimulationConfig, simulate
from sniper.training.summary import REGIMES

Scope = Literal["run", "chain"]
CONFIDENCE = 0.95
OUTCOMES = "ml.forward_outcomes"


@dataclass(frozen=True)
class Expectation:
    """Forward win rate against the walk-forward one, with the forward rate's Wilson interval."""

    forward_win_rate: float
    n_trades: int
    n_wins: int
    walk_forward_win_rate: float | None
    low: float
    high: float
    confidence: float

    @property
    def consistent(self) -> bool | None:
        """The walk-forward win rate lies inside the forward interval (None: nothing to compare)."""
        if self.walk_forward_win_rate is None or math.isnan(self.low):
            return None
        return self.low <= self.walk_forward_win_rate <= self.high

    @property
    def message(self) -> str:
        if self.n_trades == 0:
            return "no forward trade yet"
        interval = f"{self.forward_win_rate:.3f} [{self.low:.3f}, {self.high:.3f}] ({self.n_wins}/{self.n_trades})"
        if self.walk_forward_win_rate is None:
            return f"forward win rate {interval}; no walk-forward win rate to compare"
        verdict = {True: "consistent with", False: "NOT consistent with"}[bool(self.consistent)]
        worse = " (worse than its backtest)" if not self.consistent and self.high < self.walk_forward_win_rate else ""
        return (f"forward win rate {interval} is {verdict} the walk-forward {self.walk_forward_win_rate:.3f}"
                f" at {self.confidence:.0%}{worse}")


@dataclass
class ForwardRecord:
    scope: Scope
    scope_key: str
    trades: pd.DataFrame
    daily_returns: pd.Series
    equity: pd.Series
    weeks: list[WeekResult]
    months: list[MonthResult]
    by_regime: dict[str, dict[str, float]]
    overall: dict[str, float]
    enough: list[Criterion]
    alarms: list[Alarm]
    diagnosis: Diagnosis
    expectation: Expectation | None = None
    outcomes: int = 0  # signals with a complete label, before the one-position rule
    notes: list[str] = field(default_factory=list)

    @property
    def is_enough(self) -> bool:
        return bool(self.enough) and all(c.passed for c in self.enough)


def load_outcomes(conn: psycopg.Connection, scope: Scope, key: str) -> pd.DataFrame:
    """Forward outcomes of a run, or of an instrument's live chain (key exchange:market:SYMBOL)."""
    if conn.execute("select to_regclass(%s) is null", (OUTCOMES,)).fetchone()[0]:
        return pd.DataFrame(columns=["instrument", "entry_at", "side", "win_probability", "net_return",
                                     "exit_at", "month_regime", "run_id"])
    if scope == "run":
        where, params = "run_id = %s", (key,)
    else:
        exchange, market, symbol = key.split(":")
        where, params = ("deployment_status = 'live' and exchange = %s and market = %s and symbol = %s",
                         (exchange, market, symbol))
    rows = conn.execute(
        "select exchange || ':' || market || ':' || symbol, entry_at, side, win_probability, net_return, exit_at,"
        f" month_regime, run_id from {OUTCOMES} where {where} order by entry_at",
        params,
    ).fetchall()
    frame = pd.DataFrame(rows, columns=["instrument", "entry_at", "side", "win_probability", "net_return",
                                        "exit_at", "month_regime", "run_id"])
    for column in ("entry_at", "exit_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["net_return"] = frame["net_return"].astype(float)
    frame["win_probability"] = frame["win_probability"].astype(float)
    return frame


def iso_week(times: pd.Series) -> pd.Series:
    calendar = times.dt.isocalendar()
    return calendar["year"].astype(str) + "-W" + calendar["week"].astype(int).map("{:02d}".format)


def weekly(trades: pd.DataFrame) -> list[WeekResult]:
    if trades.empty:
        return []
    wins = trades.assign(week=iso_week(trades["entry_at"]), win=trades["net_return"] > 0).groupby("week")["win"]
    return [WeekResult(week=week, n_trades=int(n), n_wins=int(w)) for week, n, w in
            zip(wins.count().index, wins.count(), wins.sum(), strict=True)]


def monthly(trades: pd.DataFrame) -> list[MonthResult]:
    if trades.empty:
        return []
    frame = trades.assign(month=trades["entry_at"].dt.strftime("%Y-%m"), win=trades["net_return"] > 0)
    results = []
    for month, rows in frame.groupby("month"):
        regimes = rows["month_regime"].dropna().value_counts()
        results.append(MonthResult(month=month, n_trades=len(rows), n_wins=int(rows["win"].sum()),
                                   regime=str(regimes.index[0]) if len(regimes) else None))
    return results


def walk_forward_win_rate(conn: psycopg.Connection, run_id: str) -> float | None:
    row = conn.execute(
        "select win_rate from evaluation.model_metrics where run_id = %s and evaluation = 'walk_forward'"
        " and scope = 'overall'",
        (run_id,),
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def last_test_month(conn: psycopg.Connection, run_id: str) -> MonthResult | None:
    """The run's newest walk-forward test month, as the walk-forward evaluation reported it."""
    row = conn.execute(
        "select scope_key, n_trades, win_rate, regime from evaluation.model_metrics where run_id = %s"
        " and evaluation = 'walk_forward' and scope = 'month' order by scope_key desc limit 1",
        (run_id,),
    ).fetchone()
    if row is None or not row[1]:
        return None
    month, n, rate, regime = row
    return MonthResult(month=month, n_trades=int(n), n_wins=int(round(float(rate) * int(n))), regime=regime)


def samples_by_regime(conn: psycopg.Connection) -> dict[str, int]:
    """Labelled rows per month regime in ml.training_dataset: what training would learn from."""
    if conn.execute("select to_regclass('ml.training_dataset') is null").fetchone()[0]:
        return {regime: 0 for regime in REGIMES}
    counts = dict(conn.execute(
        "select month_regime, count(*) from ml.training_dataset where is_label_complete group by 1"
    ).fetchall())
    return {regime: int(counts.get(regime, 0)) for regime in REGIMES}


def evaluate_forward(conn: psycopg.Connection, scope: Scope, key: str) -> ForwardRecord:
    outcomes = load_outcomes(conn, scope, key)
    notes = []
    if outcomes.empty:
        trades = outcomes.assign(stake=[], pnl=[], equity_after=[])
        daily = pd.Series(dtype=float)
        equity = pd.Series(dtype=float)
    else:
        # The walk-forward simulation's own rules on the forward signals: every row already
        # took its side at its run's threshold, so threshold 0 keeps them all for rules 2-5.
        result = simulate(outcomes, SimulationConfig(threshold=0.0))
        trades = result.trades.merge(outcomes[["instrument", "entry_at", "side", "month_regime"]],
                                     on=["instrument", "entry_at", "side"], how="left")
        daily, equity = result.daily_returns, result.equity
    overall = trade_metrics(trades if len(trades) else pd.DataFrame({"net_return": [], "side": []}), daily)
    weeks, months = weekly(trades), monthly(trades)
    # A trade's regime is its month's (monthly(): the label most of the month's outcomes were
    # recorded with), like the days' it is judged with: outcomes recorded while the month ran
    # carry its label so far, which can differ within one month (docs/live.md).
    by_regime = {}
    if len(trades):
        day_regimes = _month_regimes(months, daily.index)
        by_regime = {
            regime: trade_metrics(rows, daily[[m == regime for m in day_regimes]])
            for regime, rows in trades.groupby(_month_regimes(months, pd.DatetimeIndex(trades["entry_at"])))
        }
    enough = enough_data(weeks, sharpe=overall["sharpe"], max_drawdown=overall["max_drawdown"])
    # The move from the run's last walk-forward test month into its first forward month counts
    # too: a model whose edge is gone when it goes live changed regime at that seam.
    anchor = last_test_month(conn, key) if scope == "run" else None
    alarms = regime_change_alarms(([anchor] if anchor and all(m.month > anchor.month for m in months) else [])
                                  + months)
    bias = side_bias_alarm(overall["long_share"])
    if bias is not None:
        alarms.append(bias)
    diagnosis = diagnose_data_needs(
        months, sharpe=overall["sharpe"],
        long_share=overall["long_share"] if not math.isnan(overall["long_share"]) else 0.5,
        samples_by_regime=samples_by_regime(conn),
    )
    expectation = None
    if scope == "run":
        wins = int((trades["net_return"] > 0).sum()) if len(trades) else 0
        low, high = metrics.win_rate_interval(wins, len(trades), confidence=CONFIDENCE)
        expectation = Expectation(overall["win_rate"], len(trades), wins, walk_forward_win_rate(conn, key),
                                  low, high, CONFIDENCE)
    return ForwardRecord(scope, key, trades, daily, equity, weeks, months, by_regime, overall, enough, alarms,
                         diagnosis, expectation, len(outcomes), notes)


def _month_regimes(months: list[MonthResult], days: pd.Index) -> list[str | None]:
    regime_of = {m.month: m.regime for m in months}
    return [regime_of.get(month) for month in days.strftime("%Y-%m")]


def store(conn: psycopg.Connection, record: ForwardRecord) -> None:
    """One ml.forward_evaluations row: what `sniper status` and the backfill planner read."""
    expectation = record.expectation
    conn.execute(
        "insert into ml.forward_evaluations (scope, scope_key, n_trades, win_rate, sharpe, max_drawdown, long_share,"
        " walk_forward_win_rate, enough_data, diagnosis, alarms, expectation)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (record.scope, record.scope_key, int(record.overall["n_trades"]), _finite(record.overall["win_rate"]),
         _finite(record.overall["sharpe"]), _finite(record.overall["max_drawdown"]),
         _finite(record.overall["long_share"]),
         expectation.walk_forward_win_rate if expectation else None, record.is_enough,
         json.dumps(record.diagnosis.model_dump(mode="json")),
         json.dumps([a.model_dump(mode="json") for a in record.alarms]),
         json.dumps({} if expectation is None else {
             "forward_win_rate": _finite(expectation.forward_win_rate), "n_trades": expectation.n_trades,
             "n_wins": expectation.n_wins, "low": _finite(expectation.low), "high": _finite(expectation.high),
             "confidence": expectation.confidence, "consistent": expectation.consistent,
             "message": expectation.message,
         })),
    )


def _finite(value):
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else float(value)
