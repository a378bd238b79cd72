"""Simulation on tiny hand-computed examples."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from sniper.training.simulation import (
    DEFAULT_THRESHOLDS,
    SimulationConfig,
    ThresholdSearch,
    choose_threshold,
    simulate,
)


def frame(*rows: tuple) -> pd.DataFrame:
    """Rows of (instrument, entry_at, side, win_probability, net_return, exit_at), times in UTC."""
    table = pd.DataFrame(rows, columns=["instrument", "entry_at", "side", "win_probability", "net_return", "exit_at"])
    table["entry_at"] = pd.to_datetime(table["entry_at"], utc=True)
    table["exit_at"] = pd.to_datetime(table["exit_at"], utc=True)
    return table


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


ONE_SYMBOL = frame(
    ("BTC", "2024-01-01 10:00", "long", 0.70, 0.02, "2024-01-01 10:20"),  # taken
    ("BTC", "2024-01-01 10:05", "long", 0.80, 0.05, "2024-01-01 10:25"),  # skipped: position open
    ("BTC", "2024-01-01 10:20", "short", 0.65, -0.01, "2024-01-01 10:40"),  # taken: previous exits 10:20
    ("BTC", "2024-01-01 10:25", "long", 0.55, 0.03, "2024-01-01 10:30"),  # below threshold
    ("BTC", "2024-01-01 10:45", "long", 0.62, -0.01, "2024-01-01 11:00"),  # both sides signal:
    ("BTC", "2024-01-01 10:45", "short", 0.75, 0.01, "2024-01-01 11:00"),  # the short (0.75) wins
)


class TestSimulate:
    def test_overlapping_signals_are_skipped_and_the_stronger_side_wins(self):
        result = simulate(ONE_SYMBOL, SimulationConfig(threshold=0.6))
        trades = result.trades
        entries = ["2024-01-01 10:00", "2024-01-01 10:20", "2024-01-01 10:45"]
        assert trades["entry_at"].tolist() == [utc(entry) for entry in entries]
        assert trades["side"].tolist() == ["long", "short", "short"]
        assert trades["net_return"].tolist() == [0.02, -0.01, 0.01]

    def test_equity_compounds_trade_by_trade(self):
        # One symbol: stake fraction 1 / 1 = the whole equity on every trade.
        # 1 * 1.02 = 1.02; * 0.99 = 1.0098; * 1.01 = 1.019898.
        result = simulate(ONE_SYMBOL, SimulationConfig(threshold=0.6))
        assert result.stake_fraction == 1.0
        assert result.equity.index.tolist() == [
            utc("2024-01-01 10:00"),  # the start of the period, equity 1
            utc("2024-01-01 10:20"),
            utc("2024-01-01 10:40"),
            utc("2024-01-01 11:00"),
        ]
        assert result.equity.tolist() == pytest.approx([1.0, 1.02, 1.0098, 1.019898], abs=1e-12)
        assert result.trades["pnl"].tolist() == pytest.approx([0.02, -0.0102, 0.010098], abs=1e-12)

    def test_fees_are_taken_from_net_returns_as_given(self):
        # A flat-price round trip that paid 8 bp of fees arrives as net -0.0008:
        # the simulation books exactly that, and adds no cost of its own.
        rows = frame(("ETH", "2024-01-01 00:00", "long", 0.9, -0.0008, "2024-01-01 01:00"))
        result = simulate(rows, SimulationConfig(threshold=0.5))
        assert result.trades["pnl"].tolist() == [-0.0008]
        assert result.equity.iloc[-1] == pytest.approx(0.9992, abs=1e-15)

    def test_exact_tie_between_sides_keeps_neither(self):
        rows = frame(
            ("BTC", "2024-01-01 00:00", "long", 0.7, 0.01, "2024-01-01 01:00"),
            ("BTC", "2024-01-01 00:00", "short", 0.7, -0.01, "2024-01-01 01:00"),
            ("BTC", "2024-01-01 00:05", "long", 0.6, 0.02, "2024-01-01 00:30"),
        )
        trades = simulate(rows, SimulationConfig(threshold=0.6)).trades
        # With the tied bucket dropped, nothing is open at 00:05: that signal enters.
        assert trades["entry_at"].tolist() == [utc("2024-01-01 00:05")]

    def test_concurrent_symbols_share_a_fully_funded_book(self):
        # Two symbols: default stake 1/2 of realized equity at entry.
        # 00:00 BTC enters, stake 0.5.   01:00 ETH enters, stake 0.5 (nothing closed yet).
        # 02:00 BTC exits +10 %: equity 1 + 0.05 = 1.05; then BTC re-enters, stake 0.525.
        # 03:00 ETH exits -4 %: 1.05 - 0.02 = 1.03.   04:00 BTC exits +2 %: 1.03 + 0.0105 = 1.0405.
        rows = frame(
            ("BTC", "2024-01-01 00:00", "long", 0.9, 0.10, "2024-01-01 02:00"),
            ("ETH", "2024-01-01 01:00", "long", 0.9, -0.04, "2024-01-01 03:00"),
            ("BTC", "2024-01-01 02:00", "long", 0.9, 0.02, "2024-01-01 04:00"),
        )
        result = simulate(rows, SimulationConfig(threshold=0.5))
        assert result.stake_fraction == 0.5
        assert result.trades["instrument"].tolist() == ["BTC", "ETH", "BTC"]
        assert result.trades["stake"].tolist() == pytest.approx([0.5, 0.5, 0.525], abs=1e-12)
        assert result.equity.tolist() == pytest.approx([1.0, 1.05, 1.03, 1.0405], abs=1e-12)

    def test_explicit_stake_fraction(self):
        # Stake 25 %: 1 + 0.25 * 0.02 = 1.005; + 0.25 * 1.005 * -0.01 = 1.0024875;
        # + 0.25 * 1.0024875 * 0.01 = 1.00499371875.
        result = simulate(ONE_SYMBOL, SimulationConfig(threshold=0.6, stake_fraction=0.25))
        assert result.equity.iloc[-1] == pytest.approx(1.00499371875, abs=1e-12)

    def test_daily_returns_count_idle_days_as_zero(self):
        # Jan 1: a trade exits +2 %.  Jan 2: nothing.  Jan 3: an overnight trade
        # (Jan 2 23:00 -> Jan 3 01:00) exits -1 %, booked on its exit day.  Jan 4: nothing.
        rows = frame(
            ("BTC", "2024-01-01 09:00", "long", 0.9, 0.02, "2024-01-01 10:00"),
            ("BTC", "2024-01-02 23:00", "long", 0.9, -0.01, "2024-01-03 01:00"),
            ("BTC", "2024-01-04 12:00", "long", 0.1, 0.05, "2024-01-04 13:00"),  # not a signal
        )
        result = simulate(rows, SimulationConfig(threshold=0.5))
        daily = result.daily_returns
        assert daily.index.tolist() == [utc(f"2024-01-0{day}") for day in (1, 2, 3, 4)]
        # Jan 3: 1.02 * 0.99 / 1.02 - 1 = -0.01.
        assert daily.tolist() == pytest.approx([0.02, 0.0, -0.01, 0.0], abs=1e-12)

    def test_evaluation_period_can_be_given(self):
        rows = frame(("BTC", "2024-01-01 09:00", "long", 0.9, 0.02, "2024-01-01 10:00"))
        result = simulate(rows, SimulationConfig(threshold=0.5), start="2023-12-31", end="2024-01-02")
        assert result.daily_returns.tolist() == pytest.approx([0.0, 0.02, 0.0], abs=1e-12)
        # An exit after the end extends the period rather than dropping the trade's P&L.
        late = frame(("BTC", "2024-01-01 23:00", "long", 0.9, 0.03, "2024-01-02 02:00"))
        extended = simulate(late, SimulationConfig(threshold=0.5), end="2024-01-01")
        assert extended.daily_returns.tolist() == pytest.approx([0.0, 0.03], abs=1e-12)

    def test_no_signal_gives_flat_equity(self):
        result = simulate(ONE_SYMBOL, SimulationConfig(threshold=0.95))
        assert result.trades.empty
        assert result.equity.tolist() == [1.0]
        assert result.daily_returns.tolist() == [0.0]

    def test_rejects_bad_rows(self):
        with pytest.raises(ValueError, match="lack column"):
            simulate(ONE_SYMBOL.drop(columns="exit_at"), SimulationConfig(threshold=0.5))
        with pytest.raises(ValueError, match="unknown side"):
            simulate(ONE_SYMBOL.assign(side="buy"), SimulationConfig(threshold=0.5))
        with pytest.raises(ValueError, match="exits before"):
            simulate(ONE_SYMBOL.assign(exit_at=ONE_SYMBOL["entry_at"] - pd.Timedelta(minutes=1)),
                     SimulationConfig(threshold=0.5))
        with pytest.raises(ValueError, match="same instrument, bucket and side"):
            simulate(pd.concat([ONE_SYMBOL, ONE_SYMBOL.iloc[:1]]), SimulationConfig(threshold=0.5))
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            simulate(ONE_SYMBOL.assign(win_probability=1.5), SimulationConfig(threshold=0.5))
        with pytest.raises(ValidationError):
            SimulationConfig(threshold=1.2)

    def test_rows_must_enter_within_the_given_period(self):
        with pytest.raises(ValueError, match="outside the evaluation period"):
            simulate(ONE_SYMBOL, SimulationConfig(threshold=0.5), start="2024-01-02")
        with pytest.raises(ValueError, match="outside the evaluation period"):
            simulate(ONE_SYMBOL, SimulationConfig(threshold=0.5), end="2023-12-31")


class TestChooseThreshold:
    PROBS = [0.55, 0.60, 0.65, 0.70, 0.75, 0.80]
    RETURNS = [-0.02, 0.01, -0.01, 0.03, 0.02, -0.01]
    GRID = (0.55, 0.60, 0.65, 0.70, 0.75, 0.80)

    # Hand, trades kept and their mean net return per candidate:
    #   0.55: all six, 0.02 / 6 = 0.00333     0.60: five, 0.04 / 5 = 0.008
    #   0.65: four, 0.03 / 4 = 0.0075         0.70: three, 0.04 / 3 = 0.01333
    #   0.75: two, 0.01 / 2 = 0.005           0.80: one, -0.01

    def test_highest_expectancy_with_enough_trades(self):
        choice = choose_threshold(self.PROBS, self.RETURNS, ThresholdSearch(candidates=self.GRID, min_trades=2))
        assert choice.threshold == 0.70
        assert choice.n_trades == 3
        assert choice.expectancy == pytest.approx(0.04 / 3, abs=1e-15)
        assert choice.win_rate == pytest.approx(2 / 3)

    def test_minimum_trades_rules_out_thin_thresholds(self):
        choice = choose_threshold(self.PROBS, self.RETURNS, ThresholdSearch(candidates=self.GRID, min_trades=4))
        assert (choice.threshold, choice.n_trades) == (0.60, 5)
        assert choice.expectancy == pytest.approx(0.008, abs=1e-15)

    def test_none_when_no_threshold_has_enough_trades(self):
        search = ThresholdSearch(candidates=self.GRID, min_trades=7)
        assert choose_threshold(self.PROBS, self.RETURNS, search) is None

    def test_ties_go_to_the_lowest_threshold(self):
        # Every candidate keeps trades averaging exactly 0.01.
        search = ThresholdSearch(candidates=(0.7, 0.5, 0.6), min_trades=1)
        assert choose_threshold([0.6, 0.9], [0.01, 0.01], search).threshold == 0.5

    def test_default_grid(self):
        assert DEFAULT_THRESHOLDS[0] == 0.5 and DEFAULT_THRESHOLDS[-1] == 0.95 and len(DEFAULT_THRESHOLDS) == 46
        assert 0.7 in DEFAULT_THRESHOLDS  # exact decimals: a probability of 0.7 passes a 0.7 threshold
        assert ThresholdSearch().min_trades == 30

    def test_rejects_mismatched_or_non_finite_input(self):
        with pytest.raises(ValueError, match="twins"):
            choose_threshold([0.6, 0.7], [0.01])
        with pytest.raises(ValueError, match="finite"):
            choose_threshold([0.6, float("nan")], [0.01, 0.02])


def test_total_return_objective_weighs_edge_by_evidence():
    """Hand computed: totals 0.05, 0.04, 0.03, 0.02 at 0.5..0.8; means 0.0125, 0.0133, 0.015, 0.02."""
    probs, returns = [0.55, 0.6, 0.7, 0.8], [0.01, 0.01, 0.01, 0.02]
    grid = (0.5, 0.6, 0.7, 0.8)
    by_total = choose_threshold(probs, returns, ThresholdSearch(candidates=grid, min_trades=1, objective="total_return"))
    by_mean = choose_threshold(probs, returns, ThresholdSearch(candidates=grid, min_trades=1))
    assert (by_total.threshold, by_total.n_trades) == (0.5, 4)
    assert (by_mean.threshold, by_mean.n_trades) == (0.8, 1)
