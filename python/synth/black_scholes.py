"""Black-Scholes (zero rates) greeks for the synthetic options chain."""

from __future__ import annotations

import math

import numpy as np

_erf = np.vectorize(math.erf, otypes=[float])


def norm_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(np.asarray(x, dtype=float) / math.sqrt(2.0)))


def norm_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * np.asarray(x, dtype=float) ** 2) / math.sqrt(2.0 * math.pi)


def d1(spot, strike, years, vol):
    return (np.log(spot / strike) + 0.5 * vol**2 * years) / (vol * np.sqrt(years))


def gamma(spot, strike, years, vol):
    """d(delta)/d(spot), the same for calls and puts.

    >>> round(float(gamma(100.0, 100.0, 1.0, 0.2)), 6)
    0.019848
    """
    return norm_pdf(d1(spot, strike, years, vol)) / (spot * vol * np.sqrt(years))


def delta(spot, strike, years, vol, is_call):
    n_d1 = norm_cdf(d1(spot, strike, years, vol))
    return np.where(is_call, n_d1, n_d1 - 1.0)


def vega(spot, strike, years, vol):
    return spot * norm_pdf(d1(spot, strike, years, vol)) * np.sqrt(years)


def price(spot, strike, years, vol, is_call):
    """Undiscounted (zero-rate) option value in quote currency.

    >>> round(float(price(100.0, 100.0, 1.0, 0.2, True)), 4)
    7.9656
    """
    first = d1(spot, strike, years, vol)
    second = first - vol * np.sqrt(years)
    call = spot * norm_cdf(first) - strike * norm_cdf(second)
    put = call - spot + strike
    return np.where(is_call, call, put)
