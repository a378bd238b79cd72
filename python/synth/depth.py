"""Depth-band snapshots (resting size within 1..5% of the mid, each side), every few minutes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sniper.synth.config import SYNTHETIC_EXCHANGE, SYNTHETIC_MARKET
from sniper.synth.paths import MinutePath, symbol_key

BANDS_PCT = (1, 2, 3, 4, 5)
BAND_NOTIONAL_AT_1PCT = 2_000_000.0
# Resting depth grows a little slower than the band width.
BAND_GROWTH_EXPONENT = 0.9
DEPTH_IMBALANCE_GAIN = 0.3
SNAPSHOT_EVERY_MINUTES = 5


def depth_bands_for_span(path: MinutePath, symbol: str, seed: int, first_hour: int, n_hours: int) -> pd.DataFrame:
    rng = np.random.default_rng([seed, symbol_key(symbol), 5, first_hour])
    minutes = np.arange(first_hour * 60, min((first_hour + n_hours) * 60, path.n_minutes), SNAPSHOT_EVERY_MINUTES)
    mid = np.exp(path.log_mid[minutes])
    tilt = path.tilt[minutes]
    # One row per (minute, side, band): minutes vary slowest.
    n_bands = len(BANDS_PCT)
    side = np.tile(np.repeat(np.array(["bid", "ask"]), n_bands), len(minutes))
    sign = np.where(side == "bid", 1.0, -1.0)
    band = np.tile(np.array(BANDS_PCT * 2, dtype=float), len(minutes))
    minute = np.repeat(minutes, 2 * n_bands)
    notional = (
        BAND_NOTIONAL_AT_1PCT
        * band**BAND_GROWTH_EXPONENT
        * rng.lognormal(0.0, 0.2, len(minute))
        * np.exp(sign * DEPTH_IMBALANCE_GAIN * np.repeat(tilt, 2 * n_bands))
    )
    origin = np.datetime64(path.origin.replace(tzinfo=None), "us")
    return pd.DataFrame(
        {
            "exchange": SYNTHETIC_EXCHANGE,
            "market": SYNTHETIC_MARKET,
            "symbol": symbol,
            "ts": origin + (minute * 60_000_000).astype("timedelta64[us]"),
            "side": side,
            "band_pct": band,
            "depth": np.round(notional / np.repeat(mid, 2 * n_bands), 5),
            "notional": np.round(notional, 2),
        }
    )
