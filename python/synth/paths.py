"""The minute-level mid-price path of one symbol, its regimes, and the planted signal.

The whole period's minute path is small (about 44,000 floats a month), so it is built
once; ticks are generated from it one hour at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

import numpy as np

from sniper.synth.config import SynthConfig, start_price

MINUTES_PER_DAY = 1440
REGIME_CODES = {"bull": 0, "bear": 1, "sideways": 2}


def month_starts(start: date, months: int) -> list[date]:
    """Calendar month boundaries: the start date, then the first of each following month."""
    bounds = [start]
    year, month = start.year, start.month
    for _ in range(months):
        month += 1
        if month > 12:
            year, month = year + 1, 1
        bounds.append(date(year, month, 1))
    return bounds


def symbol_key(symbol: str) -> int:
    """A stable integer per symbol for seeding (Python's hash() is salted per process)."""
    return int.from_bytes(symbol.encode()[:8].ljust(8, b"\0"), "little")


def _revert_to_month_open(log_mid, shocks, reversion, month_start) -> np.ndarray:
    """Rebuild the path where reversion > 0 as x' = x + shock - reversion * (x - month open)."""
    path = log_mid.copy()
    anchor = path[0]
    for minute in range(len(shocks)):
        if month_start[minute]:
            anchor = path[minute]
        pull = reversion[minute] * (path[minute] - anchor)
        path[minute + 1] = path[minute] + shocks[minute] - pull
    return path


@dataclass(frozen=True)
class MinutePath:
    """Per minute m (from ``origin``): log mid, regime code, and the informed-flow tilt."""

    origin: datetime
    log_mid: np.ndarray  # length n_minutes + 1: the mid at each minute boundary
    regime_code: np.ndarray  # length n_minutes
    tilt: np.ndarray  # length n_minutes, in [-1, 1]: sign and confidence of what is coming

    @property
    def n_minutes(self) -> int:
        return len(self.regime_code)


def build_minute_path(config: SynthConfig, symbol: str) -> MinutePath:
    bounds = month_starts(config.start, config.months)
    minutes_per_month = [(b - a).days * MINUTES_PER_DAY for a, b in zip(bounds, bounds[1:])]
    n_minutes = sum(minutes_per_month)
    rng = np.random.default_rng([config.seed, symbol_key(symbol), 0])

    drift = np.empty(n_minutes)
    vol = np.empty(n_minutes)
    reversion = np.empty(n_minutes)
    regime_code = np.empty(n_minutes, dtype=np.int8)
    month_start = np.zeros(n_minutes, dtype=bool)
    offset = 0
    for month_index, length in enumerate(minutes_per_month):
        regime = config.regime_of_month(month_index)
        params = config.regimes[regime]
        # A calendar month of ~30 days: spread the month's drift evenly over its minutes.
        drift[offset : offset + length] = params.drift_per_month / (30 * MINUTES_PER_DAY)
        vol[offset : offset + length] = params.vol_per_day / np.sqrt(MINUTES_PER_DAY)
        reversion[offset : offset + length] = params.mean_reversion_per_day / MINUTES_PER_DAY
        regime_code[offset : offset + length] = REGIME_CODES[regime]
        month_start[offset] = True
        offset += length

    noise = vol * rng.standard_normal(n_minutes)
    # A Brownian bridge per month: the month's noise sums to zero, so each month's log return
    # is exactly its regime's drift and the schedule is ground truth, not a hope.
    starts = np.flatnonzero(month_start)
    for first, stop in zip(starts, [*starts[1:], n_minutes]):
        noise[first:stop] -= noise[first:stop].mean()
    shocks = drift + noise
    log_mid = np.log(start_price(symbol)) + np.concatenate([[0.0], np.cumsum(shocks)])
    if reversion.any():
        log_mid = _revert_to_month_open(log_mid, shocks, reversion, month_start)

    # What an informed trader knows at minute m: the move over the next `lead` minutes,
    # in units of its own standard deviation. Strength 0 means nobody knows anything.
    # A decoy tilts the flow by the next move of an independent walk of the same volatility
    # (its own random stream: the price path above is the same either way).
    lead = config.signal_lead_minutes
    known = log_mid
    if config.signal_source == "decoy":
        decoy_rng = np.random.default_rng([config.seed, symbol_key(symbol), 9])  # 9: no other stream uses it
        known = np.concatenate([[0.0], np.cumsum(vol * decoy_rng.standard_normal(n_minutes))])
    ahead = np.minimum(np.arange(n_minutes) + lead, n_minutes)
    future = known[ahead] - known[:n_minutes]
    scale = vol * np.sqrt(lead)
    tilt = config.signal_strength * np.tanh(future / scale)

    origin = datetime(config.start.year, config.start.month, config.start.day, tzinfo=timezone.utc)
    return MinutePath(origin=origin, log_mid=log_mid, regime_code=regime_code, tilt=tilt)
