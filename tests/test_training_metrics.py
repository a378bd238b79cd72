"""Metrics against published reference values and hand computations.

Reference sources (expected values copied from them, never from our own output):

* EMPYRICAL: quantopian/empyrical, empyrical/tests/test_stats.py (commit 0a9fa58),
  ``TestStats`` fixtures and the parameter lists of test_sharpe_ratio,
  test_sortino, test_downside_risk and test_max_drawdown. empyrical annualizes
  daily returns with 252, so these tests pass ``periods_per_year=252``. Its
  ``mixed_returns`` fixture starts with a NaN that empyrical skips (nanmean);
  ours refuse NaN, so the fixture below is the eight remaining values.
* MLFINLAB: hudson-and-thames/mlfinlab, mlfinlab/tests/test_backtest_statistics.py
  (commit b2cf0bf), test_sharpe_ratio, test_probabilistic_sharpe_ratio and
  test_deflated_sharpe_ratio.
* BLP2014: Bailey & López de Prado (2014), "The Deflated Sharpe Ratio: Correcting
  for Selection Bias, Backtest Overfitting and Non-Normality", Journal of
  Portfolio Management 40(5), section "A numerical example" (the same figures are
  asserted by independent public test suites that reproduce the paper).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sniper.training.metrics import (
    deflated_sharpe_ratio,
    downside_deviation,
    dsr_from_estimates,
    expectancy,
    expected_max_sharpe,
    long_share,
    max_drawdown,
    moments,
    n_trades,
    per_period_rate,
    probabilistic_sharpe_ratio,
    profit_factor,
    psr_from_estimates,
    sharpe_ratio,
    sortino_ratio,
    win_rate,
)

EMPYRICAL_PERIODS = 252  # empyrical's DAILY annualization factor

# EMPYRICAL fixtures (values in percent in the source, divided by 100 there too).
MIXED = np.array([1.0, 10.0, -4.0, 2.0, 3.0, 2.0, 1.0, -10.0]) / 100  # mixed_returns without its NaN
POSITIVE = np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) / 100  # positive_returns
NEGATIVE = np.array([0.0, -6.0, -7.0, -1.0, -9.0, -2.0, -6.0, -8.0, -5.0]) / 100  # negative_returns
SIMPLE_BENCHMARK = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]) / 100  # simple_benchmark
DF_SIMPLE_ONE = [-0.00171614, 0.01322056, 0.03063862, -0.01422057, -0.00489779, 0.01268925, -0.03357711, 0.01797036]
DF_SIMPLE_TWO = [0.01846232, 0.00793951, -0.01448395, 0.00422537, -0.00339611, 0.03756813, 0.0151531, 0.03549769]


def annual_rate_of(per_period: float, periods: int) -> float:
    """The annual rate our functions take for a reference's constant per-period rate."""
    return (1.0 + per_period) ** periods - 1.0


class TestSharpeRatio:
    @pytest.mark.parametrize(
        ("returns", "expected"),
        [
            (MIXED, 1.7238613961706866),  # EMPYRICAL test_sharpe_ratio (mixed_returns, 0.0)
            (POSITIVE, 52.915026221291804),  # EMPYRICAL (positive_returns, 0.0)
            (NEGATIVE, -24.406808633910085),  # EMPYRICAL (negative_returns, 0.0)
        ],
    )
    def test_empyrical_vectors(self, returns, expected):
        assert sharpe_ratio(returns, periods_per_year=EMPYRICAL_PERIODS) == pytest.approx(expected, abs=1e-8)

    def test_empyrical_undefined_cases_are_nan(self):
        # EMPYRICAL: (empty_returns, 0.0, nan) and (one_return, 0.0, nan).
        assert math.isnan(sharpe_ratio([], periods_per_year=EMPYRICAL_PERIODS))
        assert math.isnan(sharpe_ratio([0.01], periods_per_year=EMPYRICAL_PERIODS))

    def test_mlfinlab_vector_with_risk_free_rate(self):
        # MLFINLAB test_sharpe_ratio: monthly returns (first of ten dropped there),
        # entries_per_year=12, risk_free_rate=0.005 per month -> 0.987483.
        monthly = [0.03, 0.02, 0.01, -0.01, 0.02, 0.01, 0.0, -0.01, 0.01]
        annual_rf = annual_rate_of(0.005, 12)
        assert sharpe_ratio(monthly, periods_per_year=12, risk_free_rate=annual_rf) == pytest.approx(
            0.987483, abs=1e-6
        )

    def test_default_annualization_is_365_days(self):
        # Hand: mean 0.02, sample stdev sqrt(((-0.01)^2 + 0.01^2) / 1) = 0.0141421,
        # per-day SR 1.4142136, times sqrt(365) = 19.104973.
        assert sharpe_ratio([0.01, 0.03]) == pytest.approx(math.sqrt(2) * math.sqrt(365), rel=1e-12)

    def test_constant_returns_have_no_sharpe(self):
        assert math.isnan(sharpe_ratio([0.01, 0.01, 0.01]))

    def test_rejects_nan_and_infinite_values(self):
        with pytest.raises(ValueError, match="NaN"):
            sharpe_ratio([np.nan, 0.01, 0.02])
        with pytest.raises(ValueError, match="NaN"):
            sharpe_ratio([np.inf, 0.01])

    def test_rejects_two_dimensional_input_and_bad_periods(self):
        with pytest.raises(ValueError, match="one-dimensional"):
            sharpe_ratio(np.zeros((2, 2)))
        with pytest.raises(ValueError, match="periods_per_year"):
            sharpe_ratio([0.01, 0.02], periods_per_year=0)

    def test_accepts_a_pandas_series(self):
        series = pd.Series(MIXED, index=pd.date_range("2000-01-31", periods=8, freq="D"))
        assert sharpe_ratio(series, periods_per_year=EMPYRICAL_PERIODS) == pytest.approx(1.7238613961706866)


class TestPerPeriodRate:
    def test_compounds_back_to_the_annual_rate(self):
        # Hand: (1 + 0.05) ** (1 / 365) - 1 = exp(ln(1.05) / 365) - 1 = 0.000133681...
        assert per_period_rate(0.05, 365) == pytest.approx(math.exp(math.log(1.05) / 365) - 1, rel=1e-12)
        assert (1 + per_period_rate(0.05, 365)) ** 365 == pytest.approx(1.05, rel=1e-12)

    def test_rejects_a_rate_at_or_below_minus_one(self):
        with pytest.raises(ValueError):
            per_period_rate(-1.0)


class TestSortinoRatio:
    @pytest.mark.parametrize(
        ("returns", "expected"),
        [
            (MIXED, 2.605531251673693),  # EMPYRICAL test_sortino (mixed_returns, 0.0, DAILY)
            (NEGATIVE, -13.532743075043401),  # EMPYRICAL (negative_returns, 0.0, DAILY)
            (DF_SIMPLE_ONE, 3.0639640966566306),  # EMPYRICAL (df_simple, 0.0, DAILY), column 'one'
            (DF_SIMPLE_TWO, 38.090963117002495),  # EMPYRICAL (df_simple, 0.0, DAILY), column 'two'
        ],
    )
    def test_empyrical_daily_vectors(self, returns, expected):
        assert sortino_ratio(returns, periods_per_year=EMPYRICAL_PERIODS) == pytest.approx(expected, abs=1e-8)

    # empyrical's WEEKLY and MONTHLY sortino vectors are not used: at that commit
    # sortino_ratio called downside_risk without its period, so they divide a
    # weekly (monthly) mean by a downside deviation annualized with 252 days.

    @pytest.mark.parametrize("returns", [POSITIVE, SIMPLE_BENCHMARK])
    def test_no_downside_is_infinite(self, returns):
        # EMPYRICAL: (positive_returns, 0.0, DAILY, inf) and (simple_benchmark, 0.0, DAILY, inf).
        assert sortino_ratio(returns, periods_per_year=EMPYRICAL_PERIODS) == math.inf

    def test_empyrical_vector_with_a_required_return(self):
        # EMPYRICAL: (mixed_returns, flat_line_1, DAILY, -1.3934779588919977): a
        # required return of 0.01 per day, which we take as the annual rate it compounds to.
        required = annual_rate_of(0.01, EMPYRICAL_PERIODS)
        result = sortino_ratio(MIXED, periods_per_year=EMPYRICAL_PERIODS, required_return=required)
        assert result == pytest.approx(-1.3934779588919977, abs=1e-8)

    def test_empyrical_undefined_cases_are_nan(self):
        # EMPYRICAL: (empty_returns, 0.0, DAILY, nan) and (one_return, 0.0, DAILY, nan).
        assert math.isnan(sortino_ratio([], periods_per_year=EMPYRICAL_PERIODS))
        assert math.isnan(sortino_ratio([0.01], periods_per_year=EMPYRICAL_PERIODS))

    def test_downside_counts_every_period(self):
        # Hand, one period a year: returns 0.02, -0.02, 0.00, -0.04; shortfalls
        # 0, -0.02, 0, -0.04; RMS over all FOUR periods sqrt((0.0004 + 0.0016) / 4)
        # = 0.0223607; mean -0.01 -> Sortino -0.4472136. (Over the two negative
        # periods only, the deviation would be 0.0316228.)
        returns = [0.02, -0.02, 0.0, -0.04]
        assert downside_deviation(returns, periods_per_year=1) == pytest.approx(math.sqrt(0.0005), rel=1e-12)
        assert sortino_ratio(returns, periods_per_year=1) == pytest.approx(-0.01 / math.sqrt(0.0005), rel=1e-12)


class TestDownsideDeviation:
    def test_empyrical_vectors(self):
        # EMPYRICAL test_downside_risk: (mixed_returns, 0.0, DAILY, 0.60448325038829653)
        # and (mixed_returns, 0.1, DAILY, 1.7161730681956295), the latter 0.1 per day.
        assert downside_deviation(MIXED, periods_per_year=EMPYRICAL_PERIODS) == pytest.approx(
            0.60448325038829653, abs=1e-8
        )
        required = annual_rate_of(0.1, EMPYRICAL_PERIODS)
        assert downside_deviation(MIXED, periods_per_year=EMPYRICAL_PERIODS, required_return=required) == (
            pytest.approx(1.7161730681956295, abs=1e-8)
        )

    def test_one_return_above_target_has_zero_downside(self):
        # EMPYRICAL: (one_return, 0.0, DAILY, 0.0).
        assert downside_deviation([0.01], periods_per_year=EMPYRICAL_PERIODS) == 0.0


class TestMaxDrawdown:
    # empyrical returns the drawdown as a negative number; ours is its magnitude.
    @pytest.mark.parametrize(
        ("returns", "expected"),
        [
            (MIXED, 0.1),  # EMPYRICAL test_max_drawdown (mixed_returns, -0.1)
            (NEGATIVE, 0.36590730349873601),  # EMPYRICAL (negative_returns, -0.36590730349873601)
            ([0.10, -0.10, 0.10], 0.10),  # EMPYRICAL (Series([10, -10, 10]) / 100, -0.10)
            (POSITIVE, 0.0),  # EMPYRICAL (positive_returns, -0.0)
            (SIMPLE_BENCHMARK, 0.0),  # EMPYRICAL (simple_benchmark, 0.0)
            ([0.01], 0.0),  # EMPYRICAL (one_return, 0.0)
        ],
    )
    def test_empyrical_vectors(self, returns, expected):
        assert max_drawdown(returns) == pytest.approx(expected, abs=1e-8)

    def test_empty_is_nan(self):
        # EMPYRICAL: (empty_returns, nan).
        assert math.isnan(max_drawdown([]))

    def test_starting_capital_is_a_peak(self):
        # Hand: equity 1 -> 0.9 -> 0.99 -> 0.792. Peaks 1, 1, 1, 1. The worst
        # trough is 0.792: drawdown 0.208. (empyrical, which only takes peaks from
        # the compounded series, would report 1 - 0.792 / 0.99 = 0.2.)
        assert max_drawdown([-0.10, 0.10, -0.20]) == pytest.approx(0.208, abs=1e-12)

    def test_recovery_then_deeper_fall(self):
        # Hand: 1 -> 1.2 -> 0.9 (dd 0.25) -> 1.35 (new peak) -> 1.08 (dd 0.2): max 0.25.
        assert max_drawdown([0.2, -0.25, 0.5, -0.2]) == pytest.approx(0.25, abs=1e-12)

    def test_rejects_returns_below_minus_one(self):
        with pytest.raises(ValueError, match="-100"):
            max_drawdown([0.1, -1.5])


class TestTradeStatistics:
    # Hand-made trades: net returns after fees, one per trade.
    TRADES = [0.03, -0.01, 0.0, 0.02, -0.02, 0.01]

    def test_n_trades(self):
        assert n_trades(self.TRADES) == 6
        assert n_trades([]) == 0

    def test_win_rate_counts_strict_gains(self):
        # Wins: 0.03, 0.02, 0.01 -> 3 of 6; the zero trade is not a win.
        assert win_rate(self.TRADES) == 0.5
        assert math.isnan(win_rate([]))

    def test_profit_factor(self):
        # Gross profit 0.03 + 0.02 + 0.01 = 0.06; gross loss 0.01 + 0.02 = 0.03.
        assert profit_factor(self.TRADES) == pytest.approx(2.0, rel=1e-12)
        assert profit_factor([0.01, 0.02]) == math.inf
        assert math.isnan(profit_factor([0.0, 0.0]))
        assert math.isnan(profit_factor([]))

    def test_expectancy_is_the_mean_and_the_win_loss_decomposition(self):
        # Sum 0.03 / 6 trades = 0.005. Also 3/6 * mean win 0.02 - 2/6 * mean loss 0.015 = 0.005.
        assert expectancy(self.TRADES) == pytest.approx(0.005, abs=1e-15)
        assert expectancy(self.TRADES) == pytest.approx(3 / 6 * 0.02 - 2 / 6 * 0.015, abs=1e-15)
        assert math.isnan(expectancy([]))

    def test_long_share(self):
        sides = pd.Series(["long", "short", "short", "long", "long"])
        assert long_share(sides) == pytest.approx(0.6)
        assert long_share(["short"]) == 0.0
        assert math.isnan(long_share([]))

    def test_long_share_rejects_unknown_sides(self):
        with pytest.raises(ValueError, match="buy"):
            long_share(["long", "buy"])


class TestMoments:
    def test_hand_computed_moments(self):
        # Returns 0, 0, 0, 4: mean 1; deviations -1, -1, -1, 3.
        # m2 = (1 + 1 + 1 + 9) / 4 = 3; m3 = (-1 - 1 - 1 + 27) / 4 = 6; m4 = (1 + 1 + 1 + 81) / 4 = 21.
        # skewness 6 / 3^1.5 = 1.1547005; kurtosis 21 / 9 = 2.3333333.
        skewness, kurtosis = moments([0.0, 0.0, 0.0, 4.0])
        assert skewness == pytest.approx(6 / 3**1.5, rel=1e-12)
        assert kurtosis == pytest.approx(21 / 9, rel=1e-12)


class TestProbabilisticSharpeRatio:
    def test_mlfinlab_vector(self):
        # MLFINLAB test_probabilistic_sharpe_ratio: SR 1.14 against 1, 250 returns,
        # skewness 0, kurtosis 3 -> 0.95727.
        assert psr_from_estimates(1.14, 250, benchmark_sharpe=1.0, skewness=0, kurtosis=3) == pytest.approx(
            0.95727, abs=1e-5
        )

    def test_hand_computed_from_returns(self):
        # Six daily returns 0.01, -0.01, 0.02, 0.00, 0.01, 0.015 (one period a day):
        # mean 0.0075; deviations 0.0025, -0.0175, 0.0125, -0.0075, 0.0025, 0.0075;
        # sum of squares 5.875e-4 -> sample stdev sqrt(5.875e-4 / 5); SR = 0.0075 / stdev.
        # m2 = 5.875e-4 / 6; m3 = -3.375e-6 / 6; m4 = 1.24609375e-7 / 6.
        returns = [0.01, -0.01, 0.02, 0.0, 0.01, 0.015]
        sr = 0.0075 / math.sqrt(5.875e-4 / 5)
        m2, m3, m4 = 5.875e-4 / 6, -3.375e-6 / 6, 1.24609375e-7 / 6
        g3, g4 = m3 / m2**1.5, m4 / m2**2
        z = sr * math.sqrt(6 - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
        phi = 0.5 * (1 + math.erf(z / math.sqrt(2)))
        assert probabilistic_sharpe_ratio(returns, periods_per_year=365) == pytest.approx(phi, rel=1e-9)
        # The same with an annualized benchmark: it is de-annualized with sqrt(365).
        z_bench = (sr - 1.0 / math.sqrt(365)) * math.sqrt(5) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
        expected = 0.5 * (1 + math.erf(z_bench / math.sqrt(2)))
        assert probabilistic_sharpe_ratio(returns, benchmark_sharpe=1.0) == pytest.approx(expected, rel=1e-9)

    def test_needs_two_observations_and_a_positive_variance(self):
        with pytest.raises(ValueError):
            psr_from_estimates(0.1, 1)
        with pytest.raises(ValueError, match="non-positive"):
            psr_from_estimates(1.0, 100, skewness=5.0, kurtosis=3.0)

    def test_undefined_sharpe_gives_nan(self):
        assert math.isnan(probabilistic_sharpe_ratio([0.0, 0.0, 0.0]))


class TestDeflatedSharpeRatio:
    def test_mlfinlab_vector_from_trial_spread(self):
        # MLFINLAB test_deflated_sharpe_ratio: SR 1.14, 250 returns, trials' SR
        # standard deviation 0.4 over 100 trials -> benchmark 1.012241, DSR 0.941740.
        assert expected_max_sharpe(100, 0.4**2) == pytest.approx(1.012241, abs=1e-6)
        assert dsr_from_estimates(1.14, 250, n_trials=100, trials_sharpe_variance=0.4**2) == pytest.approx(
            0.941740, abs=1e-6
        )

    def test_mlfinlab_vector_from_trial_list(self):
        # MLFINLAB: SR estimates [3.5, 1.01, 1.02] -> 0.95836; mlfinlab takes their
        # population variance (np.std, ddof=0) and N = 3.
        estimates = np.array([3.5, 1.01, 1.02])
        variance = float(np.mean((estimates - estimates.mean()) ** 2))
        assert dsr_from_estimates(1.14, 250, n_trials=3, trials_sharpe_variance=variance) == pytest.approx(
            0.95836, abs=1e-5
        )

    def test_bailey_lopez_de_prado_2014_numerical_example(self):
        # BLP2014: annualized SR 2.5 over T = 1250 daily returns (250 a year), N = 100
        # trials with annualized V[SR_n] = 1/2, skewness -3, kurtosis 10:
        # SR0 = 0.1132 (per day) and DSR = 0.9004. Per day: SR = 2.5 / sqrt(250),
        # V = 0.5 / 250.
        daily_sr, daily_variance = 2.5 / math.sqrt(250), 0.5 / 250
        assert expected_max_sharpe(100, daily_variance) == pytest.approx(0.1132, abs=5e-5)
        dsr = dsr_from_estimates(
            daily_sr, 1250, n_trials=100, trials_sharpe_variance=daily_variance, skewness=-3, kurtosis=10
        )
        assert dsr == pytest.approx(0.9004, abs=5e-5)

    def test_bailey_lopez_de_prado_2014_trial_counts(self):
        # BLP2014, same example: DSR reaches 0.9505 after only N = 46 trials, and
        # with normal returns (skewness 0, kurtosis 3) at N = 88.
        daily_sr, daily_variance = 2.5 / math.sqrt(250), 0.5 / 250
        at_46 = dsr_from_estimates(
            daily_sr, 1250, n_trials=46, trials_sharpe_variance=daily_variance, skewness=-3, kurtosis=10
        )
        at_88 = dsr_from_estimates(daily_sr, 1250, n_trials=88, trials_sharpe_variance=daily_variance)
        assert at_46 == pytest.approx(0.9505, abs=5e-5)
        assert at_88 == pytest.approx(0.9505, abs=5e-5)

    def test_from_returns_deannualizes_the_trial_variance(self):
        # The returns-level DSR must equal the estimate-level one fed with the
        # hand-computed per-day statistics of TestProbabilisticSharpeRatio's series
        # and the annual trial variance 1.0 divided by 365.
        returns = [0.01, -0.01, 0.02, 0.0, 0.01, 0.015]
        sr = 0.0075 / math.sqrt(5.875e-4 / 5)
        m2, m3, m4 = 5.875e-4 / 6, -3.375e-6 / 6, 1.24609375e-7 / 6
        expected = dsr_from_estimates(
            sr, 6, n_trials=10, trials_sharpe_variance=1.0 / 365, skewness=m3 / m2**1.5, kurtosis=m4 / m2**2
        )
        result = deflated_sharpe_ratio(returns, n_trials=10, trials_sharpe_variance=1.0)
        assert result == pytest.approx(expected, rel=1e-9)

    def test_expected_max_sharpe_hand_value(self):
        # N = 2: (1 - gamma) * Z^-1(0.5) + gamma * Z^-1(1 - 1/(2e)) = gamma * Z^-1(0.8160603)
        # = 0.5772157 * 0.9004 (table: Phi(0.90) = 0.8159) ~= 0.5197.
        assert expected_max_sharpe(2, 1.0) == pytest.approx(0.5197, abs=2e-4)

    def test_rejects_fewer_than_two_trials_and_negative_variance(self):
        with pytest.raises(ValueError):
            expected_max_sharpe(1, 1.0)
        with pytest.raises(ValueError):
            expected_max_sharpe(10, -0.1)
