"""What a model must beat on its own test days (entries at random, always long, always short),
and Hansen's test of Superior Predictive Ability (arch's ``SPA``) that it does.

Every baseline trades as often as the model: on each UTC day and instrument it enters as many
times as the model did, at buckets drawn at random among that day's scored rows, under the
simulation's rules (one position per instrument, the model's stake, fees in the returns):

* ``random``: any bucket, either side (each scored row of the day equally likely);
* ``always_long`` / ``always_short``: any bucket, that side only.

A baseline's daily return is the mean over ``draws`` such random strategies (fixed seeds),
i.e. the expected return of trading that often with no information, with the noise of
single draws averaged out. Same fees and the same number of trades as the model: a model
that only wins by trading less (or more) than chance would does not get credit for it.

The test, per baseline b (docs/evaluation.md, "Baselines and SPA"): arch's SPA takes LOSSES,
``benchmark`` the one to beat and ``models`` the challengers, and tests H0 "no challenger is
better than the benchmark". With losses = -daily returns, the baseline as the benchmark and
the model as the only challenger, a small p-value says the model's daily returns beat the
baseline's. The model must beat all three baselines, so the run's p-value is the largest of
the three (an intersection-union test: each at level alpha gives level alpha for all).
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from sniper.training.simulation import book_trades

BASELINES = ("random", "always_long", "always_short")
NS_PER_DAY = 86_400 * 10**9
MIN_SPA_DAYS = 10


class BaselineConfig(BaseModel):
    """How the baselines are drawn and how hard SPA bootstraps."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    draws: int = Field(default=20, ge=1, description="random strategies averaged per baseline and fold")
    seed: int = Field(default=7, ge=0, description="first key of every draw's random generator")
    spa_reps: int = Field(default=1000, ge=100, description="bootstrap replications")
    spa_block_size: int | None = Field(
        default=None, ge=1,
        description="mean block length of the stationary bootstrap; None: Politis-White's for the differential",
    )
    spa_seed: int = Field(default=7, ge=0)


class BaselineTest(BaseModel):
    """The model against one baseline over the walk-forward test days."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    baseline: str
    p_value: float | None = Field(description="SPA consistent p-value; None when undefined")
    model_mean_return: float | None = Field(description="mean daily return of the model")
    baseline_mean_return: float | None = Field(description="mean daily return of the baseline")
    n_days: int
    note: str = ""


def _day_counts(trades: pd.DataFrame) -> dict[tuple[str, int], int]:
    if trades.empty:
        return {}
    days = pd.to_datetime(trades["entry_at"], utc=True).to_numpy("datetime64[ns]").astype(np.int64) // NS_PER_DAY
    counts = pd.Series(1, index=pd.MultiIndex.from_arrays([trades["instrument"].to_numpy(), days])).groupby(level=[0, 1]).sum()
    return {(str(instrument), int(day)): int(n) for (instrument, day), n in counts.items()}


def random_entries(rows: pd.DataFrame, counts: dict[tuple[str, int], int], rng: np.random.Generator) -> np.ndarray:
    """Positions of ``rows`` to enter: per instrument and day up to ``counts[(instrument, day)]``
    buckets drawn at random, no two of an instrument open at once (``[entry_at, exit_at)`` apart).

    Days are taken in time order, a day's rows in a random order; a row is kept unless it
    overlaps a kept one. Fewer are kept only when the day has no room left.

    >>> rows = pd.DataFrame({"instrument": ["A"] * 4,
    ...     "entry_at": pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:05", "2024-01-01 01:00",
    ...                                 "2024-01-02 00:00"], utc=True),
    ...     "exit_at": pd.to_datetime(["2024-01-01 00:30", "2024-01-01 00:35", "2024-01-01 01:30",
    ...                                "2024-01-02 00:30"], utc=True)})
    >>> day = int(pd.Timestamp("2024-01-01").value // NS_PER_DAY)
    >>> picked = random_entries(rows, {("A", day): 2}, np.random.default_rng(0))
    >>> len(picked), 2 in picked, 3 in picked   # two of Jan 1 (00:00 and 00:05 cannot both be)
    (2, True, False)
    """
    entry = rows["entry_at"].to_numpy("datetime64[ns]").astype(np.int64)
    exit_ = np.maximum(rows["exit_at"].to_numpy("datetime64[ns]").astype(np.int64), entry + 1)
    days = entry // NS_PER_DAY
    instruments = rows["instrument"].to_numpy()
    chosen: list[int] = []
    for instrument in sorted(set(instruments)):
        mine = np.flatnonzero(instruments == instrument)
        open_entries: list[int] = []
        open_exits: list[int] = []  # sorted too: kept trades never overlap
        for day in np.unique(days[mine]):
            need = counts.get((str(instrument), int(day)), 0)
            if need == 0:
                continue
            kept = 0
            for position in rng.permutation(mine[days[mine] == day]):
                start, end = entry[position], exit_[position]
                at = bisect_left(open_entries, end)
                if at > 0 and open_exits[at - 1] > start:
                    continue
                insort(open_entries, start)
                insort(open_exits, end)
                chosen.append(int(position))
                kept += 1
                if kept == need:
                    break
    return np.array(sorted(chosen), dtype=int)


def _candidates(scored: pd.DataFrame, baseline: str) -> pd.DataFrame:
    if baseline == "random":
        return scored
    side = {"always_long": "long", "always_short": "short"}[baseline]
    return scored[scored["side"] == side]


def baseline_daily_returns(
    scored: pd.DataFrame,
    trades: pd.DataFrame,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    config: BaselineConfig,
    key: int = 0,
) -> dict[str, pd.Series]:
    """Each baseline's daily returns over ``start..end``: the mean of ``config.draws`` random strategies
    that enter, per instrument and day, as often as the model's ``trades`` did.

    ``scored`` are the test rows the model scored (``evaluate.score``), ``key`` tells folds
    apart in the seeds, so a run draws the same strategies every time.
    """
    counts = _day_counts(trades)
    stake = 1.0 / max(scored["instrument"].nunique(), 1)
    out: dict[str, pd.Series] = {}
    for number, baseline in enumerate(BASELINES):
        rows = _candidates(scored, baseline).reset_index(drop=True)
        rng = np.random.default_rng([config.seed, key, number])
        draws = []
        for _ in range(config.draws):
            picked = rows.iloc[random_entries(rows, counts, rng)]
            draws.append(book_trades(picked, stake_fraction=stake, start=start, end=end).daily_returns)
        frame = pd.concat(draws, axis=1).fillna(0.0)  # a draw whose last exit is earlier has no P&L on later days
        out[baseline] = frame.mean(axis=1).rename(baseline)
    return out


def spa_p_value(model_returns, baseline_returns, *, reps: int = 1000, block_size: int | None = None,
                seed: int = 7) -> float:
    """Hansen's (2005) SPA p-value, through ``arch.bootstrap.SPA``, that ``model_returns`` beat ``baseline_returns``.

    Both are daily returns over the same days. Losses are the negated returns; the baseline
    is SPA's benchmark and the model its one alternative, so the null is "the model's mean
    daily return is not above the baseline's" and a small p-value rejects it. The
    stationary bootstrap (mean block ``block_size``, default sqrt(days)) keeps runs of
    days together; by default its mean block length is the one Politis and White (2004,
    corrected by Patton, Politis and White 2009; arch's ``optimal_block_length``) choose for
    the daily differential, rounded up. With a fixed ``seed`` the p-value is the same on every
    call. ``nan`` when the two never differ (no evidence either way).

    With one challenger, arch's three p-values (lower, consistent, upper) are one and the
    same whenever the model's mean is at or above the baseline's; below it, the consistent
    one (reported here) recentres the null and lands between about 0.5 and 1.

    A planted edge of 1 % a day over noise of 1 % is found; a model 1 % a day worse is not:

    >>> rng = np.random.default_rng(3)
    >>> baseline = rng.normal(0.0, 0.01, 250)
    >>> spa_p_value(baseline + 0.01 + rng.normal(0.0, 0.01, 250), baseline) < 0.01
    True
    >>> spa_p_value(baseline - 0.01 + rng.normal(0.0, 0.01, 250), baseline) > 0.4
    True
    """
    from arch.bootstrap import SPA

    model = np.asarray(model_returns, dtype=float)
    base = np.asarray(baseline_returns, dtype=float)
    if model.ndim != 1 or model.shape != base.shape:
        raise ValueError(f"model {model.shape} and baseline {base.shape} returns must be one-dimensional twins")
    if not (np.isfinite(model).all() and np.isfinite(base).all()):
        raise ValueError("returns contain NaN or infinite values")
    if model.size < MIN_SPA_DAYS:
        raise ValueError(f"SPA needs at least {MIN_SPA_DAYS} days, got {model.size}")
    if np.all(model - base == 0):
        return math.nan
    if block_size is None:
        block_size = politis_white_block(model - base)
    test = SPA(-base, -model, block_size=block_size, reps=reps, bootstrap="stationary", seed=seed)
    test.compute()
    return float(test.pvalues["consistent"])


def politis_white_block(differential) -> int:
    """The stationary bootstrap's mean block length for a series (Politis and White 2004), rounded up.

    >>> politis_white_block(np.random.default_rng(0).normal(size=61))   # independent days: short blocks
    2
    """
    from arch.bootstrap import optimal_block_length

    length = float(optimal_block_length(np.asarray(differential, dtype=float))["stationary"].iloc[0])
    return max(1, math.ceil(length)) if math.isfinite(length) else 1


def baseline_tests(model: pd.Series, baselines: pd.DataFrame, config: BaselineConfig) -> list[BaselineTest]:
    """The model's daily returns against each baseline's (same rows, same order)."""
    tests = []
    for name in baselines.columns:
        base = baselines[name]
        note = ""
        try:
            p_value = spa_p_value(model.to_numpy(), base.to_numpy(), reps=config.spa_reps,
                                  block_size=config.spa_block_size, seed=config.spa_seed)
        except ValueError as error:
            p_value, note = math.nan, str(error)
        if math.isnan(p_value) and not note:
            note = "the model's and the baseline's daily returns never differ"
        tests.append(BaselineTest(
            baseline=str(name), p_value=None if math.isnan(p_value) else p_value,
            model_mean_return=float(model.mean()) if len(model) else None,
            baseline_mean_return=float(base.mean()) if len(base) else None,
            n_days=len(model), note=note,
        ))
    return tests


def combined_p_value(tests: list[BaselineTest]) -> tuple[float, str]:
    """The largest p-value (the model must beat every baseline) and a note naming it; ``nan`` if any is undefined."""
    if not tests:
        return math.nan, "not computed: no walk-forward test day"
    undefined = [test for test in tests if test.p_value is None]
    if undefined:
        return math.nan, "not computed: " + "; ".join(f"{test.baseline}: {test.note}" for test in undefined)
    worst = max(tests, key=lambda test: test.p_value)
    listed = ", ".join(f"{test.baseline.replace('_', ' ')} {test.p_value:.3f}" for test in tests)
    return worst.p_value, f"largest of {listed} ({worst.n_days} days)"
