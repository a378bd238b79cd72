"""Alarms, the "more data needed" diagnosis and the go-live verdict, as pure functions of metrics.

The verdict is READY FOR LIVE TRADING only when every criterion passes:

* win rate over the last ``win_rate_months`` (3) test months, pooled
  (all wins / all trades, so a thin month cannot dominate), above 0.55;
* Sharpe ratio of the daily test returns above 1.5;
* maximum drawdown of the test equity (a positive fraction) below 0.12;
* the model was tested on a regime it never trained on (leave-one-regime-out);
* probability of backtest overfitting over the threshold candidates below 0.5
  (Bailey, Borwein, López de Prado and Zhu 2014: at 0.5 the in-sample best is as likely
  below the median out of sample as above it; ``sniper.training.overfitting``);
* the model beats trading at random, always long and always short, as often as it did, on
  the same test days: the largest of the three SPA p-values below 0.05 (Hansen 2005;
  ``sniper.training.baselines``).

Comparisons are strict: a value equal to its threshold fails. A missing or
undefined value (``nan``, too few months) fails too. Anything short of READY is
KEEP COLLECTING DATA.

Exit codes for a scheduler: ``EXIT_READY`` = 0; ``EXIT_KEEP_COLLECTING`` = 3,
which stays clear of 1 (an unhandled error) and 2 (the CLI's usage error), so
"the run worked and the answer is no" is never mistaken for a failure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

READY = "READY FOR LIVE TRADING"
KEEP_COLLECTING = "KEEP COLLECTING DATA"
EXIT_READY = 0
EXIT_KEEP_COLLECTING = 3
# Differences of two win rates are not exact in floating point (0.65 - 0.55 is
# 0.09999999999999998); moves and shares are compared with this much slack.
FLOAT_SLACK = 1e-9
# The criteria's keys, in the order the verdict lists them.
CRITERIA = ("win_rate", "sharpe", "max_drawdown", "unseen_regime", "pbo", "spa")


class MonthResult(BaseModel):
    """One test month of the simulation: trades taken and how many won."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM, UTC")
    n_trades: int = Field(ge=0)
    n_wins: int = Field(ge=0)
    regime: str | None = None

    @model_validator(mode="after")
    def _wins_within_trades(self) -> MonthResult:
        if self.n_wins > self.n_trades:
            raise ValueError(f"{self.month}: {self.n_wins} wins out of {self.n_trades} trades")
        return self

    @property
    def win_rate(self) -> float:
        return self.n_wins / self.n_trades if self.n_trades else math.nan


class GateConfig(BaseModel):
    """Thresholds of the go-live verdict."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_win_rate: float = Field(default=0.55, ge=0, le=1)
    win_rate_months: int = Field(default=3, ge=1)
    min_sharpe: float = 1.5
    max_drawdown: float = Field(default=0.12, gt=0, le=1)
    require_unseen_regime: bool = True
    max_pbo: float = Field(default=0.5, gt=0, le=1, description="probability of backtest overfitting")
    max_spa_p_value: float = Field(default=0.05, gt=0, lt=1, description="largest p-value against the baselines")


class AlarmConfig(BaseModel):
    """Thresholds of the alarms and of the urgent-data diagnosis."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_win_rate_move: float = Field(default=0.10, gt=0, le=1, description="between consecutive months")
    max_side_share: float = Field(default=0.8, gt=0.5, le=1, description="share of longs or of shorts")
    urgent_min_win_rate: float = Field(default=0.5, ge=0, le=1, description="in the newest month")
    urgent_min_sharpe: float = 0.8


class Criterion(BaseModel):
    """One line of the verdict: passes when ``value <comparison> threshold``.

    ``key`` names the criterion for code (``GateResult.criterion``); ``name`` is for people.
    Runs stored before keys existed have none.
    """

    key: str | None = None
    name: str
    value: float | bool | None
    comparison: Literal[">", "<", "is"]
    threshold: float | bool
    passed: bool
    note: str = ""

    def line(self) -> str:
        shown = f"{self.value:.4f}" if isinstance(self.value, float) else str(self.value)
        limit = f"{self.threshold:.4f}" if isinstance(self.threshold, float) else str(self.threshold)
        note = f"  ({self.note})" if self.note else ""
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {shown} {self.comparison} {limit}{note}"


class GateResult(BaseModel):
    """The verdict, every criterion behind it, and the exit code that carries it."""

    verdict: Literal["READY FOR LIVE TRADING", "KEEP COLLECTING DATA"]
    exit_code: int
    criteria: list[Criterion]
    config: GateConfig

    def report(self) -> str:
        return "\n".join([*(criterion.line() for criterion in self.criteria), self.verdict])

    def criterion(self, key: str) -> Criterion:
        """The criterion with this key (one of ``CRITERIA``)."""
        for criterion in self.criteria:
            if criterion.key == key:
                return criterion
        raise KeyError(f"no criterion {key!r}; the verdict has {[c.key for c in self.criteria]}")


class Alarm(BaseModel):
    """Something a human should look at; never a verdict by itself."""

    kind: Literal["regime_change", "side_bias"]
    message: str
    value: float
    threshold: float
    month: str | None = None


class Diagnosis(BaseModel):
    """Whether more data is needed urgently, why, and which regime has the least."""

    urgent: bool
    reasons: list[str]
    scarcest_regime: str | None
    message: str


def _sorted_months(months: Sequence[MonthResult]) -> list[MonthResult]:
    ordered = sorted(months, key=lambda result: result.month)
    names = [result.month for result in ordered]
    if len(set(names)) != len(names):
        raise ValueError(f"a month appears twice in {names}")
    return ordered


def _above(value: float, threshold: float) -> bool:
    return not math.isnan(value) and value > threshold


def _below(value: float, threshold: float) -> bool:
    return not math.isnan(value) and value < threshold


def pooled_win_rate(months: Sequence[MonthResult]) -> float:
    """All wins over all trades of the given months (``nan`` without trades).

    >>> pooled_win_rate([MonthResult(month="2024-01", n_trades=10, n_wins=9),
    ...                  MonthResult(month="2024-02", n_trades=90, n_wins=45)])
    0.54
    """
    trades = sum(result.n_trades for result in months)
    return sum(result.n_wins for result in months) / trades if trades else math.nan


def readiness_gate(
    months: Sequence[MonthResult],
    *,
    sharpe: float,
    max_drawdown: float,
    tested_on_unseen_regime: bool,
    pbo: float,
    spa_p_value: float,
    pbo_note: str = "",
    spa_note: str = "",
    config: GateConfig | None = None,
) -> GateResult:
    """The go-live verdict from the test months, the test Sharpe and drawdown, regime coverage,
    the probability of backtest overfitting and the p-value against the baselines.

    ``pbo`` or ``spa_p_value`` ``nan`` (not computable) fails its criterion; the notes say why.

    >>> months = [MonthResult(month=f"2024-0{m}", n_trades=100, n_wins=60) for m in (1, 2, 3)]
    >>> result = readiness_gate(months, sharpe=1.8, max_drawdown=0.07, tested_on_unseen_regime=True,
    ...                         pbo=0.1, spa_p_value=0.01)
    >>> result.verdict, result.exit_code
    ('READY FOR LIVE TRADING', 0)
    >>> readiness_gate(months, sharpe=1.8, max_drawdown=0.07, tested_on_unseen_regime=True,
    ...                pbo=0.5, spa_p_value=0.01).criterion("pbo").passed
    False
    """
    config = config or GateConfig()
    ordered = _sorted_months(months)
    recent = ordered[-config.win_rate_months :]
    win_rate = pooled_win_rate(recent)
    enough_months = len(recent) == config.win_rate_months
    span = f"{recent[0].month}..{recent[-1].month}" if recent else "no test month"
    win_note = span if enough_months else f"only {len(recent)} of {config.win_rate_months} test months"
    criteria = [
        Criterion(
            key="win_rate",
            name=f"win rate, last {config.win_rate_months} test months pooled",
            value=win_rate,
            comparison=">",
            threshold=config.min_win_rate,
            passed=enough_months and _above(win_rate, config.min_win_rate),
            note=win_note,
        ),
        Criterion(
            key="sharpe",
            name="Sharpe ratio of daily test returns",
            value=float(sharpe),
            comparison=">",
            threshold=config.min_sharpe,
            passed=_above(float(sharpe), config.min_sharpe),
        ),
        Criterion(
            key="max_drawdown",
            name="maximum drawdown of test equity",
            value=float(max_drawdown),
            comparison="<",
            threshold=config.max_drawdown,
            passed=_below(float(max_drawdown), config.max_drawdown),
        ),
        Criterion(
            key="unseen_regime",
            name="tested on an unseen regime",
            value=bool(tested_on_unseen_regime),
            comparison="is",
            threshold=True,
            passed=bool(tested_on_unseen_regime) or not config.require_unseen_regime,
            note="" if config.require_unseen_regime else "not required by this config",
        ),
        Criterion(
            key="pbo",
            name="probability of backtest overfitting (thresholds, CSCV)",
            value=float(pbo),
            comparison="<",
            threshold=config.max_pbo,
            passed=_below(float(pbo), config.max_pbo),
            note=pbo_note or ("not computed" if math.isnan(pbo) else ""),
        ),
        Criterion(
            key="spa",
            name="beats random, always-long and always-short entries (SPA p-value, largest)",
            value=float(spa_p_value),
            comparison="<",
            threshold=config.max_spa_p_value,
            passed=_below(float(spa_p_value), config.max_spa_p_value),
            note=spa_note or ("not computed" if math.isnan(spa_p_value) else ""),
        ),
    ]
    ready = all(criterion.passed for criterion in criteria)
    return GateResult(
        verdict=READY if ready else KEEP_COLLECTING,
        exit_code=EXIT_READY if ready else EXIT_KEEP_COLLECTING,
        criteria=criteria,
        config=config,
    )


def regime_change_alarms(months: Sequence[MonthResult], config: AlarmConfig | None = None) -> list[Alarm]:
    """An alarm for every move of the win rate by MORE than ``max_win_rate_move`` month to month.

    Months are taken in calendar order; a pair with a month without trades is skipped.

    >>> months = [MonthResult(month="2024-01", n_trades=100, n_wins=50),
    ...           MonthResult(month="2024-02", n_trades=100, n_wins=62)]
    >>> [alarm.message for alarm in regime_change_alarms(months)]
    ['win rate moved +12.0 points from 2024-01 to 2024-02 (limit 10.0)']
    """
    config = config or AlarmConfig()
    ordered = _sorted_months(months)
    alarms = []
    for before, after in zip(ordered, ordered[1:], strict=False):
        if not (before.n_trades and after.n_trades):
            continue
        move = after.win_rate - before.win_rate
        if abs(move) > config.max_win_rate_move + FLOAT_SLACK:
            alarms.append(
                Alarm(
                    kind="regime_change",
                    message=(
                        f"win rate moved {move * 100:+.1f} points from {before.month} to {after.month} "
                        f"(limit {config.max_win_rate_move * 100:.1f})"
                    ),
                    value=move,
                    threshold=config.max_win_rate_move,
                    month=after.month,
                )
            )
    return alarms


def side_bias_alarm(long_share: float, config: AlarmConfig | None = None) -> Alarm | None:
    """An alarm when longs, or shorts, make up MORE than ``max_side_share`` of the trades.

    ``long_share`` is ``metrics.long_share`` of the trades; ``nan`` (no trades) raises no alarm.

    >>> side_bias_alarm(0.9).message
    'predictions biased: 90% of trades are long (limit 80%)'
    >>> side_bias_alarm(0.8) is None
    True
    """
    config = config or AlarmConfig()
    if math.isnan(long_share):
        return None
    if not 0 <= long_share <= 1:
        raise ValueError(f"long_share must lie in [0, 1], got {long_share}")
    side, share = ("long", long_share) if long_share >= 0.5 else ("short", 1.0 - long_share)
    if share <= config.max_side_share + FLOAT_SLACK:
        return None
    return Alarm(
        kind="side_bias",
        message=f"predictions biased: {share:.0%} of trades are {side} (limit {config.max_side_share:.0%})",
        value=share,
        threshold=config.max_side_share,
    )


def diagnose_data_needs(
    months: Sequence[MonthResult],
    *,
    sharpe: float,
    long_share: float,
    samples_by_regime: Mapping[str, int],
    config: AlarmConfig | None = None,
) -> Diagnosis:
    """MORE DATA NEEDED URGENTLY when the newest month loses, the Sharpe is low or predictions lean one way.

    Any one of: newest test month's win rate below ``urgent_min_win_rate`` (or no
    trades in it), Sharpe below ``urgent_min_sharpe`` (or undefined), a side-bias
    alarm. The diagnosis names the regime with the fewest training samples in
    ``samples_by_regime``, which must list every regime (zero counts included);
    ties go to the alphabetically first.

    >>> months = [MonthResult(month="2024-05", n_trades=40, n_wins=18)]
    >>> diagnosis = diagnose_data_needs(months, sharpe=1.1, long_share=0.5,
    ...                                 samples_by_regime={"bull": 900, "bear": 120, "sideways": 400})
    >>> diagnosis.urgent, diagnosis.scarcest_regime
    (True, 'bear')
    >>> diagnosis.message
    'MORE DATA NEEDED URGENTLY: collect bear data (120 training samples, the fewest)'
    """
    config = config or AlarmConfig()
    if any(count < 0 for count in samples_by_regime.values()):
        raise ValueError(f"negative sample count in {dict(samples_by_regime)}")
    reasons = []
    ordered = _sorted_months(months)
    if not ordered or ordered[-1].n_trades == 0:
        reasons.append("no trades in the newest test month")
    elif ordered[-1].win_rate < config.urgent_min_win_rate:
        newest = ordered[-1]
        reasons.append(
            f"win rate {newest.win_rate:.1%} in {newest.month} is below {config.urgent_min_win_rate:.0%}"
        )
    if math.isnan(sharpe):
        reasons.append("Sharpe ratio undefined (no variation in daily returns)")
    elif sharpe < config.urgent_min_sharpe:
        reasons.append(f"Sharpe ratio {sharpe:.2f} is below {config.urgent_min_sharpe:.2f}")
    bias = side_bias_alarm(long_share, config)
    if bias is not None:
        reasons.append(bias.message)

    scarcest = min(sorted(samples_by_regime), key=lambda regime: samples_by_regime[regime], default=None)
    if not reasons:
        message = "no urgent need for data"
    elif scarcest is None:
        message = "MORE DATA NEEDED URGENTLY (no regime counts given)"
    else:
        message = (
            f"MORE DATA NEEDED URGENTLY: collect {scarcest} data "
            f"({samples_by_regime[scarcest]} training samples, the fewest)"
        )
    return Diagnosis(urgent=bool(reasons), reasons=reasons, scarcest_regime=scarcest, message=message)


class WeekResult(BaseModel):
    """One ISO week of forward trades."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    week: str = Field(pattern=r"^\d{4}-W(0[1-9]|[1-4][0-9]|5[0-3])$", description="ISO year and week, YYYY-Www")
    n_trades: int = Field(ge=0)
    n_wins: int = Field(ge=0)

    @property
    def win_rate(self) -> float:
        return self.n_wins / self.n_trades if self.n_trades else math.nan


class EnoughDataConfig(BaseModel):
    """The roadmap's rule for a model in service: no more data needed once its forward record
    has a win rate above the gate's in each of the last ``min_weeks`` consecutive ISO weeks,
    a Sharpe ratio above ``min_sharpe`` and a drawdown below ``max_drawdown``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_weekly_win_rate: float = Field(default=GateConfig.model_fields["min_win_rate"].default, ge=0, le=1)
    min_weeks: int = Field(default=4, ge=1)
    min_sharpe: float = 1.3
    max_drawdown: float = Field(default=0.15, gt=0, le=1)


def _iso_week_after(week: str) -> str:
    from datetime import date, timedelta

    year, number = week.split("-W")
    monday = date.fromisocalendar(int(year), int(number), 1) + timedelta(weeks=1)
    iso = monday.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def enough_data(
    weeks: Sequence[WeekResult], *, sharpe: float, max_drawdown: float, config: EnoughDataConfig | None = None
) -> list[Criterion]:
    """The enough-data rule's criteria on a forward record; it holds when all pass.

    The last ``min_weeks`` weeks must follow each other (no week without trades between them).

    >>> weeks = [WeekResult(week=f"2024-W0{w}", n_trades=20, n_wins=12) for w in range(1, 6)]
    >>> all(c.passed for c in enough_data(weeks, sharpe=1.6, max_drawdown=0.05))
    True
    >>> [c.key for c in enough_data(weeks[:3], sharpe=1.6, max_drawdown=0.05) if not c.passed]
    ['weekly_win_rate']
    """
    config = config or EnoughDataConfig()
    ordered = sorted((w for w in weeks if w.n_trades), key=lambda w: w.week)
    recent = ordered[-config.min_weeks :]
    consecutive = len(recent) == config.min_weeks and all(
        _iso_week_after(before.week) == after.week for before, after in zip(recent, recent[1:], strict=False)
    )
    lowest = min((w.win_rate for w in recent), default=math.nan)
    span = f"{recent[0].week}..{recent[-1].week}" if recent else "no forward week"
    return [
        Criterion(
            key="weekly_win_rate",
            name=f"win rate in each of the last {config.min_weeks} consecutive weeks (lowest)",
            value=lowest,
            comparison=">",
            threshold=config.min_weekly_win_rate,
            passed=consecutive and _above(lowest, config.min_weekly_win_rate),
            note=span if consecutive else f"{span}: not {config.min_weeks} consecutive weeks with trades",
        ),
        Criterion(key="sharpe", name="Sharpe ratio of daily forward returns", value=float(sharpe),
                  comparison=">", threshold=config.min_sharpe, passed=_above(float(sharpe), config.min_sharpe)),
        Criterion(key="max_drawdown", name="maximum drawdown of forward equity", value=float(max_drawdown),
                  comparison="<", threshold=config.max_drawdown,
                  passed=_below(float(max_drawdown), config.max_drawdown)),
    ]
