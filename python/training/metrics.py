"""Performance metrics of a strategy: pure functions of its returns or of its trades.

Conventions (docs/evaluation.md has the formulas and the references):

* Returns are simple (not log) returns, as fractions: 0.01 is +1 %.
* Period returns for Sharpe, Sortino and drawdown are DAILY strategy returns by
  default (``periods_per_year=365``: crypto trades every day); a day without a
  trade is a 0 return (see ``sniper.training.simulation``).
* Annual rates (``risk_free_rate``, ``required_return``) become per-period
  rates geometrically: ``(1 + annual) ** (1 / periods_per_year) - 1``.
* Standard deviations are sample ones (``ddof=1``); skewness and kurtosis are the
  moment estimators of Bailey & López de Prado (biased, kurtosis not excess:
  a normal distribution has 3).
* A statistic that is undefined on the given sample (no trades, one return, zero
  variance) is ``nan``; input that cannot be a return series (NaN, infinity,
  not one-dimensional) raises ``ValueError``.
* ``max_drawdown`` is a positive fraction of the running peak: 0.12 is a 12 % loss.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from statistics import NormalDist

import numpy as np

DAYS_PER_YEAR = 365
EULER_MASCHERONI = 0.5772156649015329
NORMAL_KURTOSIS = 3.0
STANDARD_NORMAL = NormalDist()
SIDES = ("long", "short")


def _returns(values: Iterable[float], *, name: str = "returns") -> np.ndarray:
    array = np.asarray(values if not hasattr(values, "to_numpy") else values.to_numpy(), dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contain NaN or infinite values; drop or fill them first")
    return array


def _periods(periods_per_year: float) -> float:
    if not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be positive, got {periods_per_year}")
    return float(periods_per_year)


def per_period_rate(annual_rate: float, periods_per_year: float = DAYS_PER_YEAR) -> float:
    """The per-period rate that compounds to ``annual_rate`` over one year.

    >>> round(per_period_rate(0.05, 365), 8)
    0.00013368
    >>> per_period_rate(0.0)
    0.0
    """
    if not annual_rate > -1:
        raise ValueError(f"an annual rate must be above -100 %, got {annual_rate}")
    return (1.0 + annual_rate) ** (1.0 / _periods(periods_per_year)) - 1.0


def sharpe_ratio(returns, *, periods_per_year: float = DAYS_PER_YEAR, risk_free_rate: float = 0.0) -> float:
    """Annualized Sharpe ratio: mean excess return over its sample stdev, times sqrt(periods).

    ``SR = mean(r - rf) / std(r - rf, ddof=1) * sqrt(periods_per_year)``, where
    ``rf`` is the annual ``risk_free_rate`` converted to one period
    (:func:`per_period_rate`). ``nan`` with fewer than two returns or zero stdev.

    >>> round(sharpe_ratio([0.01, 0.03], periods_per_year=4), 4)   # 0.02 / 0.01414 * 2
    2.8284
    >>> sharpe_ratio([0.01])
    nan
    """
    excess = _returns(returns) - per_period_rate(risk_free_rate, periods_per_year)
    if excess.size < 2:
        return math.nan
    stdev = excess.std(ddof=1)
    if stdev == 0:
        return math.nan
    return float(excess.mean() / stdev * math.sqrt(_periods(periods_per_year)))


def downside_deviation(returns, *, periods_per_year: float = DAYS_PER_YEAR, required_return: float = 0.0) -> float:
    """Annualized downside deviation below ``required_return`` (annual rate, default 0).

    Root mean square of ``min(r - target, 0)`` over ALL periods (periods above the
    target count as zeros and stay in the denominator), times sqrt(periods): the
    convention of empyrical's ``downside_risk``. ``nan`` on an empty series.

    >>> round(downside_deviation([0.02, -0.02, 0.0, -0.04], periods_per_year=1), 6)  # sqrt(0.002 / 4)
    0.022361
    """
    shortfall = np.minimum(_returns(returns) - per_period_rate(required_return, periods_per_year), 0.0)
    if shortfall.size == 0:
        return math.nan
    return float(math.sqrt(np.mean(shortfall**2)) * math.sqrt(_periods(periods_per_year)))


def sortino_ratio(returns, *, periods_per_year: float = DAYS_PER_YEAR, required_return: float = 0.0) -> float:
    """Annualized Sortino ratio: mean excess over the target, over the downside deviation.

    ``mean(r - target) * periods_per_year / downside_deviation``, the target being
    ``required_return`` (annual, default 0) per period. ``inf`` when no period is
    below the target and the mean is positive; ``nan`` with fewer than two returns.

    >>> round(sortino_ratio([0.02, -0.02, 0.0, -0.04], periods_per_year=1), 4)  # -0.01 / 0.02236
    -0.4472
    >>> sortino_ratio([0.01, 0.02])
    inf
    """
    array = _returns(returns)
    if array.size < 2:
        return math.nan
    excess = array - per_period_rate(required_return, periods_per_year)
    downside = downside_deviation(array, periods_per_year=periods_per_year, required_return=required_return)
    mean = float(excess.mean()) * _periods(periods_per_year)
    if downside == 0:
        return math.inf if mean > 0 else math.nan  # no shortfall: the mean cannot be negative
    return mean / downside


def max_drawdown(returns) -> float:
    """Largest fall of compounded equity from its running peak, as a positive fraction.

    Equity starts at 1 (that starting value is a peak too, so a first-day loss is a
    drawdown) and compounds: ``E_t = prod(1 + r_i)``. The result is
    ``max_t (1 - E_t / max_{s<=t} E_s)``: 0 for a series that never falls, 0.12 for
    a 12 % fall. (empyrical reports the same magnitude as a negative number.)
    ``nan`` on an empty series.

    >>> round(max_drawdown([0.10, -0.10, 0.10]), 10)   # 1.1 -> 0.99
    0.1
    >>> round(max_drawdown([-0.5, 1.0, -0.2]), 10)      # 1 -> 0.5
    0.5
    """
    array = _returns(returns)
    if array.size == 0:
        return math.nan
    if (array < -1).any():
        raise ValueError("a return below -100 % cannot compound")
    equity = np.concatenate(([1.0], np.cumprod(1.0 + array)))
    peaks = np.maximum.accumulate(equity)
    return float(np.max(1.0 - equity / peaks))


def win_rate_interval(wins: int, trades: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a win rate observed as ``wins`` out of ``trades`` (binomial).

    ``(p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` with ``z`` the two-sided
    normal quantile of ``confidence`` (Wilson 1927); it stays inside [0, 1] and is honest for
    small ``n``, where the normal approximation is not. ``(nan, nan)`` without trades.

    >>> [round(bound, 4) for bound in win_rate_interval(60, 100)]
    [0.502, 0.6906]
    >>> win_rate_interval(0, 0)
    (nan, nan)
    """
    if trades < 0 or not 0 <= wins <= trades:
        raise ValueError(f"need 0 <= wins <= trades, got {wins} of {trades}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if trades == 0:
        return math.nan, math.nan
    z = STANDARD_NORMAL.inv_cdf(0.5 + confidence / 2)
    p = wins / trades
    denominator = 1 + z * z / trades
    center = (p + z * z / (2 * trades)) / denominator
    half = z * math.sqrt(p * (1 - p) / trades + z * z / (4 * trades * trades)) / denominator
    return max(0.0, center - half), min(1.0, center + half)


def n_trades(trade_returns) -> int:
    """Number of trades (one net return per trade).

    >>> n_trades([0.01, -0.02, 0.0])
    3
    """
    return int(_returns(trade_returns, name="trade returns").size)


def win_rate(trade_returns) -> float:
    """Share of trades with a strictly positive net return (a zero return is not a win).

    >>> win_rate([0.01, -0.02, 0.0, 0.03])
    0.5
    >>> win_rate([])
    nan
    """
    array = _returns(trade_returns, name="trade returns")
    return float((array > 0).mean()) if array.size else math.nan


def profit_factor(trade_returns) -> float:
    """Gross profit over gross loss: ``sum(r > 0) / |sum(r < 0)|`` of per-trade net returns.

    ``inf`` with profits and no losses; ``nan`` with neither (no trades, or only zeros).

    >>> profit_factor([0.03, -0.01, 0.01, -0.01])
    2.0
    >>> profit_factor([0.01])
    inf
    """
    array = _returns(trade_returns, name="trade returns")
    profit = float(array[array > 0].sum())
    loss = float(-array[array < 0].sum())
    if loss == 0:
        return math.inf if profit > 0 else math.nan
    return profit / loss


def expectancy(trade_returns) -> float:
    """Mean net return per trade: ``win_rate * mean win - loss_rate * mean loss``.

    >>> round(expectancy([0.03, -0.01, 0.01, -0.01]), 10)
    0.005
    >>> expectancy([])
    nan
    """
    array = _returns(trade_returns, name="trade returns")
    return float(array.mean()) if array.size else math.nan


def long_share(sides) -> float:
    """Share of trades that are longs, from their sides (``"long"`` or ``"short"``).

    The share of shorts is ``1 - long_share``. ``nan`` with no trades.

    >>> long_share(["long", "short", "long", "long"])
    0.75
    """
    array = np.asarray(sides.to_numpy() if hasattr(sides, "to_numpy") else list(sides), dtype=object)
    if array.ndim != 1:
        raise ValueError(f"sides must be one-dimensional, got shape {array.shape}")
    unknown = sorted({str(side) for side in array} - set(SIDES))
    if unknown:
        raise ValueError(f"unknown side(s) {unknown}: expected 'long' or 'short'")
    return float((array == "long").mean()) if array.size else math.nan


def moments(returns) -> tuple[float, float]:
    """Skewness and kurtosis (not excess) by the moment estimators ``m3/m2^1.5`` and ``m4/m2^2``.

    These are the population (biased) moments Bailey & López de Prado plug into
    the PSR; a normal distribution has skewness 0 and kurtosis 3.

    >>> moments([-1.0, 0.0, 1.0, 0.0])   # m2 = 0.5, m3 = 0, m4 = 0.5
    (0.0, 2.0)
    """
    array = _returns(returns)
    centered = array - array.mean()
    m2 = float(np.mean(centered**2))
    if array.size < 2 or m2 == 0:
        return math.nan, math.nan
    return float(np.mean(centered**3)) / m2**1.5, float(np.mean(centered**4)) / m2**2


def psr_from_estimates(
    sharpe: float,
    n_observations: int,
    *,
    benchmark_sharpe: float = 0.0,
    skewness: float = 0.0,
    kurtosis: float = NORMAL_KURTOSIS,
) -> float:
    """Probabilistic Sharpe ratio from NON-annualized (per-period) estimates.

    ``PSR = Phi((SR - SR*) * sqrt(T - 1) / sqrt(1 - g3 * SR + (g4 - 1) / 4 * SR^2))``
    (Bailey & López de Prado 2012, eq. for PSR), the probability that the true
    Sharpe ratio exceeds ``benchmark_sharpe`` given ``n_observations`` = T
    returns with skewness g3 and kurtosis g4 (not excess).

    >>> round(psr_from_estimates(0.1, 101), 4)   # Phi(0.1 * 10 / sqrt(1.005))
    0.8407
    """
    if n_observations < 2:
        raise ValueError(f"PSR needs at least two observations, got {n_observations}")
    variance_term = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if not variance_term > 0:
        raise ValueError(
            f"skewness {skewness} and kurtosis {kurtosis} give a non-positive Sharpe variance at SR {sharpe}"
        )
    z = (sharpe - benchmark_sharpe) * math.sqrt(n_observations - 1) / math.sqrt(variance_term)
    return STANDARD_NORMAL.cdf(z)


def probabilistic_sharpe_ratio(
    returns,
    *,
    periods_per_year: float = DAYS_PER_YEAR,
    benchmark_sharpe: float = 0.0,
    risk_free_rate: float = 0.0,
) -> float:
    """PSR of a return series against an ANNUALIZED ``benchmark_sharpe``.

    Inside, everything is per period, as the formula requires: the series' Sharpe
    is ``sharpe_ratio(...) / sqrt(periods_per_year)``, the benchmark is divided by
    the same factor, skewness and kurtosis come from :func:`moments` of the excess
    returns. ``nan`` where the Sharpe ratio is undefined.

    >>> round(probabilistic_sharpe_ratio([0.01, -0.01, 0.02, 0.0, 0.01, 0.015], periods_per_year=365), 4)
    0.8937
    """
    periods = _periods(periods_per_year)
    excess = _returns(returns) - per_period_rate(risk_free_rate, periods)
    annual = sharpe_ratio(excess, periods_per_year=periods)
    if math.isnan(annual):
        return math.nan
    skewness, kurtosis = moments(excess)
    return psr_from_estimates(
        annual / math.sqrt(periods),
        excess.size,
        benchmark_sharpe=benchmark_sharpe / math.sqrt(periods),
        skewness=skewness,
        kurtosis=kurtosis,
    )


def expected_max_sharpe(n_trials: int, trials_sharpe_variance: float) -> float:
    """Expected maximum of ``n_trials`` Sharpe estimates whose true value is 0 (the DSR's SR0).

    ``sqrt(V) * ((1 - gamma) * Z^-1(1 - 1/N) + gamma * Z^-1(1 - 1/(N e)))`` with
    gamma the Euler-Mascheroni constant (Bailey & López de Prado 2014, eq. 2 with
    the trials' mean Sharpe at 0). In whatever units the variance is given.

    >>> round(expected_max_sharpe(100, 1.0), 4)
    2.5306
    """
    if n_trials < 2:
        raise ValueError(f"the expected maximum needs at least two trials, got {n_trials}")
    if not trials_sharpe_variance >= 0:
        raise ValueError(f"a variance cannot be negative, got {trials_sharpe_variance}")
    max_z = (1.0 - EULER_MASCHERONI) * STANDARD_NORMAL.inv_cdf(1.0 - 1.0 / n_trials) + (
        EULER_MASCHERONI * STANDARD_NORMAL.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    )
    return math.sqrt(trials_sharpe_variance) * max_z


def dsr_from_estimates(
    sharpe: float,
    n_observations: int,
    *,
    n_trials: int,
    trials_sharpe_variance: float,
    skewness: float = 0.0,
    kurtosis: float = NORMAL_KURTOSIS,
) -> float:
    """Deflated Sharpe ratio from NON-annualized estimates: the PSR against SR0.

    ``DSR = PSR(SR0)`` with ``SR0 = expected_max_sharpe(n_trials, trials_sharpe_variance)``;
    ``sharpe`` and the variance of the trials' Sharpe ratios are per period.

    >>> round(dsr_from_estimates(0.1, 1001, n_trials=10, trials_sharpe_variance=0.0009), 4)
    0.952
    """
    threshold = expected_max_sharpe(n_trials, trials_sharpe_variance)
    return psr_from_estimates(
        sharpe, n_observations, benchmark_sharpe=threshold, skewness=skewness, kurtosis=kurtosis
    )


def deflated_sharpe_ratio(
    returns,
    *,
    n_trials: int,
    trials_sharpe_variance: float,
    periods_per_year: float = DAYS_PER_YEAR,
    risk_free_rate: float = 0.0,
) -> float:
    """DSR of the selected configuration's returns, after trying ``n_trials`` configurations.

    ``trials_sharpe_variance`` is the variance across the configurations tried of
    their ANNUALIZED Sharpe ratios (what the trainer records); it is divided by
    ``periods_per_year`` to become per period, as is the series' Sharpe ratio
    (Bailey & López de Prado 2014 do the same in their numerical example).

    >>> daily = [0.01, -0.01, 0.02, 0.0, 0.01, 0.015]
    >>> round(deflated_sharpe_ratio(daily, n_trials=10, trials_sharpe_variance=1.0), 4)
    0.8638
    """
    periods = _periods(periods_per_year)
    excess = _returns(returns) - per_period_rate(risk_free_rate, periods)
    annual = sharpe_ratio(excess, periods_per_year=periods)
    if math.isnan(annual):
        return math.nan
    skewness, kurtosis = moments(excess)
    return dsr_from_estimates(
        annual / math.sqrt(periods),
        excess.size,
        n_trials=n_trials,
        trials_sharpe_variance=trials_sharpe_variance / periods,
        skewness=skewness,
        kurtosis=kurtosis,
    )
