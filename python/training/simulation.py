"""Trading simulation for evaluation: which signals become trades, and the equity they make.

Input is one row per instrument, bucket and side that the model scored (columns in
``REQUIRED_COLUMNS``): ``entry_at`` (UTC bucket time), ``side`` ("long" or
"short"), ``win_probability`` (the model's output), ``net_return`` (the realized
return of that side's triple-barrier trade, AFTER fees and slippage: the
simulation adds no cost) and ``exit_at`` (when the barrier was hit).

Rules, in order:

1. A row is a signal when ``win_probability >= threshold``.
2. When both sides of one instrument and bucket signal, the one with the higher
   probability is kept; an exact tie keeps neither (the model has no direction).
3. One position per instrument: a signal is skipped while that instrument's position is
   open, i.e. while ``entry_at < exit_at`` of the open trade (a signal in the
   bucket where the previous trade exits may enter).
4. Sizing: each trade stakes ``stake_fraction`` of the equity realized at its
   entry (closed trades only; exits at the same instant are booked first). By
   default the fraction is 1 / number of instruments in the input, a fully funded
   equal-weight book. Its P&L, ``stake * net_return``, is booked at its exit.
5. Daily returns are those of the equity at the end of each UTC day, over every
   day of the evaluation period: a day without an exit has a 0 return, so a
   Sharpe ratio computed from them is penalized for idle days, not flattered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from sniper.training.metrics import SIDES

REQUIRED_COLUMNS = ("instrument", "entry_at", "side", "win_probability", "net_return", "exit_at")
DEFAULT_THRESHOLDS = tuple(round(0.50 + 0.01 * step, 2) for step in range(46))  # 0.50, 0.51, ..., 0.95
DEFAULT_MIN_TRADES = 30
TIE_TOLERANCE = 1e-12  # expectancies closer than this are equal (float noise of different means)


class SimulationConfig(BaseModel):
    """How signals become trades."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float = Field(ge=0.0, le=1.0, description="enter when win_probability >= threshold")
    stake_fraction: float | None = Field(
        default=None, gt=0.0, le=1.0, description="share of realized equity per trade; default 1 / instruments"
    )


@dataclass(frozen=True)
class SimulationResult:
    """Trades taken, equity after each exit (starting at 1.0) and daily returns."""

    trades: pd.DataFrame
    equity: pd.Series
    daily_returns: pd.Series
    stake_fraction: float


def _validated(rows: pd.DataFrame) -> pd.DataFrame:
    missing = [column for column in REQUIRED_COLUMNS if column not in rows.columns]
    if missing:
        raise ValueError(f"simulation rows lack column(s) {missing}; expected {list(REQUIRED_COLUMNS)}")
    frame = rows.loc[:, list(REQUIRED_COLUMNS)].copy()
    if frame.isna().any().any():
        raise ValueError("simulation rows contain missing values")
    frame["entry_at"] = pd.to_datetime(frame["entry_at"], utc=True)
    frame["exit_at"] = pd.to_datetime(frame["exit_at"], utc=True)
    unknown = sorted(set(frame["side"].unique()) - set(SIDES))
    if unknown:
        raise ValueError(f"unknown side(s) {unknown}: expected 'long' or 'short'")
    probability = frame["win_probability"].astype(float)
    if ((probability < 0) | (probability > 1)).any():
        raise ValueError("win_probability must lie in [0, 1]")
    net = frame["net_return"].astype(float)
    if not np.isfinite(net).all() or (net < -1).any():
        raise ValueError("net_return must be finite and not below -100 %")
    if (frame["exit_at"] < frame["entry_at"]).any():
        raise ValueError("a trade exits before it enters")
    if frame.duplicated(["instrument", "entry_at", "side"]).any():
        raise ValueError("more than one row for the same instrument, bucket and side")
    return frame


def _one_side_per_bucket(signals: pd.DataFrame) -> pd.DataFrame:
    ranked = signals.sort_values(["instrument", "entry_at", "win_probability"], ascending=[True, True, False])
    best = ranked.groupby(["instrument", "entry_at"], sort=False)["win_probability"].transform("max")
    at_best = ranked[ranked["win_probability"] == best]
    tied = at_best.duplicated(["instrument", "entry_at"], keep=False)
    return at_best[~tied]


def _non_overlapping(signals: pd.DataFrame) -> pd.DataFrame:
    taken: list[int] = []
    ordered = signals.sort_values(["instrument", "entry_at"], kind="stable")
    instruments = ordered["instrument"].to_numpy()
    entries = ordered["entry_at"].to_numpy(dtype="datetime64[ns]").view(np.int64).tolist()
    exits = ordered["exit_at"].to_numpy(dtype="datetime64[ns]").view(np.int64).tolist()
    labels = ordered.index.tolist()
    open_until = None
    for position, label in enumerate(labels):
        if position == 0 or instruments[position] != instruments[position - 1]:
            open_until = None  # rows of one instrument are contiguous: a new instrument starts flat
        if open_until is None or entries[position] >= open_until:
            taken.append(label)
            open_until = exits[position]
    return signals.loc[taken].sort_values(["entry_at", "instrument"], kind="stable")


def _book(trades: pd.DataFrame, stake_fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stake at entry, equity after each exit: events in time order, exits before entries."""
    n = len(trades)
    entries = trades["entry_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    exits = trades["exit_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    returns = trades["net_return"].to_numpy(dtype=float)
    times = np.concatenate([exits, entries])
    kinds = np.concatenate([np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)])
    index = np.concatenate([np.arange(n), np.arange(n)])
    order = np.lexsort((index, kinds, times))  # by time, then exits (0) before entries (1), then trade
    stake = [0.0] * n
    equity_after = [0.0] * n
    returns_list = returns.tolist()
    equity = 1.0
    for kind, i in zip(kinds[order].tolist(), index[order].tolist(), strict=True):
        if kind == 1:
            stake[i] = stake_fraction * equity
        else:
            equity += stake[i] * returns_list[i]
            equity_after[i] = equity
    stake_array = np.array(stake, dtype=float)
    return stake_array, stake_array * returns, np.array(equity_after, dtype=float)


def _utc_stamp(value) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _daily_returns(equity: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    days = pd.date_range(start.normalize(), end.normalize(), freq="D", tz="UTC")
    closing = equity.groupby(equity.index.normalize()).last()
    closing = closing.reindex(days).ffill().fillna(1.0)
    previous = closing.shift(1).fillna(1.0)
    daily = closing / previous - 1.0
    daily.index.name = "day"
    return daily.rename("daily_return")


def simulate(
    rows: pd.DataFrame,
    config: SimulationConfig,
    *,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
) -> SimulationResult:
    """Trades, equity curve and daily returns of the rows under ``config`` (rules in the module doc).

    The daily series covers the UTC days from ``start`` (default: the first row's
    entry day) to ``end`` (default: the last row's entry day), extended to the last
    exit so that no trade's P&L falls outside it. Rows must enter within those days.

    >>> rows = pd.DataFrame({
    ...     "instrument": ["BTC", "BTC"], "side": ["long", "long"], "win_probability": [0.7, 0.8],
    ...     "entry_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05"], utc=True),
    ...     "exit_at": pd.to_datetime(["2024-01-01 10:20", "2024-01-01 10:25"], utc=True),
    ...     "net_return": [0.02, 0.05]})
    >>> result = simulate(rows, SimulationConfig(threshold=0.6))
    >>> result.trades["net_return"].tolist(), round(float(result.equity.iloc[-1]), 6)
    ([0.02], 1.02)
    """
    frame = _validated(rows)
    stake_fraction = config.stake_fraction or 1.0 / max(frame["instrument"].nunique(), 1)
    signals = frame[frame["win_probability"] >= config.threshold]
    trades = _non_overlapping(_one_side_per_bucket(signals)).reset_index(drop=True)
    first, last = _period(frame, start, end)
    return _booked(trades, stake_fraction, first, last)


def book_trades(
    trades: pd.DataFrame,
    *,
    stake_fraction: float,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
) -> SimulationResult:
    """Equity and daily returns of trades chosen elsewhere (rules 4 and 5 of the module doc).

    The rows (``REQUIRED_COLUMNS`` but ``win_probability``) must already obey rules 2 and 3:
    no two trades of one instrument open at once, else ``ValueError``. ``simulate`` of the same
    rows at any threshold they all pass books them identically.

    >>> trades = pd.DataFrame({"instrument": ["BTC", "ETH"], "side": ["long", "short"],
    ...     "entry_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05"], utc=True),
    ...     "exit_at": pd.to_datetime(["2024-01-01 10:20", "2024-01-02 00:25"], utc=True),
    ...     "net_return": [0.02, -0.01]})
    >>> daily = book_trades(trades, stake_fraction=0.5, start="2024-01-01", end="2024-01-01").daily_returns
    >>> [round(value, 6) for value in daily.tolist()]   # +0.5 * 2 % on day one, -0.5 * 1 % of 1.01 on day two
    [0.01, -0.00495]
    """
    frame = _validated(trades.assign(win_probability=1.0)).sort_values(["entry_at", "instrument"], kind="stable")
    if len(_non_overlapping(frame)) != len(frame):
        raise ValueError("trades of one instrument overlap: choose them with the one-position rule first")
    first, last = _period(frame, start, end)
    return _booked(frame.reset_index(drop=True), stake_fraction, first, last)


def _period(frame: pd.DataFrame, start, end) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The evaluation period's first and last instant; every row must enter within its days."""
    if (start is None or end is None) and frame.empty:
        raise ValueError("no rows and no start or end: the evaluation period is unknown")
    first = _utc_stamp(start) if start is not None else frame["entry_at"].min()
    last = _utc_stamp(end) if end is not None else frame["entry_at"].max()
    entry_days = frame["entry_at"].dt.normalize()
    if (entry_days < first.normalize()).any() or (entry_days > last.normalize()).any():
        raise ValueError(f"rows enter outside the evaluation period {first.date()}..{last.date()}")
    return first, last


def _booked(trades: pd.DataFrame, stake_fraction: float, first: pd.Timestamp, last: pd.Timestamp) -> SimulationResult:
    stake, pnl, equity_after = _book(trades, stake_fraction)
    trades = trades.assign(stake=stake, pnl=pnl, equity_after=equity_after)
    if len(trades):
        last = max(last, trades["exit_at"].max())
    if last < first:
        raise ValueError(f"end {last} is before start {first}")

    by_exit = trades.sort_values("exit_at", kind="stable")
    equity = pd.concat(
        [
            pd.Series([1.0], index=pd.DatetimeIndex([first])),
            pd.Series(by_exit["equity_after"].to_numpy(), index=pd.DatetimeIndex(by_exit["exit_at"])),
        ]
    )
    equity = equity.groupby(level=0, sort=True).last().rename("equity")
    equity.index.name = "at"
    return SimulationResult(
        trades=trades,
        equity=equity,
        daily_returns=_daily_returns(equity, first, last),
        stake_fraction=stake_fraction,
    )


class ThresholdSearch(BaseModel):
    """Candidate thresholds and the least number of training signals a threshold must keep."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    candidates: tuple[float, ...] = Field(default=DEFAULT_THRESHOLDS, min_length=1)
    min_trades: int = Field(default=DEFAULT_MIN_TRADES, ge=1)
    # "expectancy": highest mean return per trade; "total_return": highest summed return,
    # which weighs the edge by the evidence behind it (a high threshold keeping a few
    # lucky signals no longer wins just by being selective).
    objective: Literal["expectancy", "total_return"] = "expectancy"


class ThresholdChoice(BaseModel):
    """The chosen threshold and what it achieved on the training data."""

    model_config = ConfigDict(frozen=True)

    threshold: float
    expectancy: float
    n_trades: int
    win_rate: float


def choose_threshold(train_probs, train_returns, search: ThresholdSearch | None = None) -> ThresholdChoice | None:
    """Pick the entry threshold on TRAINING rows only: the highest expectancy with enough trades.

    For each candidate t, the training rows with ``prob >= t`` are its trades; among
    candidates keeping at least ``min_trades`` of them, the one with the highest mean
    net return per trade wins; ties (within ``TIE_TOLERANCE``) go to the lowest
    threshold, which keeps more evidence.
    Rows are counted as trades without the one-position-per-instrument rule, so
    ``n_trades`` counts signals, which may overlap in time. ``None`` when no
    candidate keeps ``min_trades`` rows: the fold has too little training data.

    >>> choice = choose_threshold([0.55, 0.6, 0.7, 0.8], [-0.02, 0.01, 0.03, -0.01],
    ...                           ThresholdSearch(candidates=(0.5, 0.6, 0.7), min_trades=2))
    >>> choice.threshold, round(choice.expectancy, 6), choice.n_trades
    (0.6, 0.01, 3)
    """
    search = search or ThresholdSearch()
    probs = np.asarray(train_probs, dtype=float)
    returns = np.asarray(train_returns, dtype=float)
    if probs.ndim != 1 or probs.shape != returns.shape:
        raise ValueError(
            f"train_probs {probs.shape} and train_returns {returns.shape} must be one-dimensional twins"
        )
    if not (np.isfinite(probs).all() and np.isfinite(returns).all()):
        raise ValueError("train_probs and train_returns must be finite")
    best: ThresholdChoice | None = None
    best_score = -math.inf
    for threshold in sorted(search.candidates):
        chosen = returns[probs >= threshold]
        if chosen.size < search.min_trades:
            continue
        mean = float(chosen.mean())
        score = mean if search.objective == "expectancy" else float(chosen.sum())
        if best is None or score > best_score + TIE_TOLERANCE:
            best_score = score
            best = ThresholdChoice(
                threshold=threshold,
                expectancy=mean,
                n_trades=int(chosen.size),
                win_rate=float((chosen > 0).mean()),
            )
    return best
