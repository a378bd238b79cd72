"""Hourly options-chain snapshots with Black-Scholes greeks, in the raw.options_chain layout."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from sniper.synth import black_scholes as bs
from sniper.synth.config import SYNTHETIC_EXCHANGE
from sniper.synth.paths import symbol_key

DAYS_PER_YEAR = 365.0
EXPIRIES_AHEAD = 3  # the next three weekly expiries (Fridays 08:00 UTC, as on Deribit)
STRIKE_OFFSETS = np.linspace(-0.2, 0.2, 9)  # strikes from -20% to +20% of spot
SMILE_CURVATURE = 2.0
OPEN_INTEREST_ATM = 500.0


def underlying_of(symbol: str) -> str:
    for quote in ("USDT", "USDC", "USD", "BUSD"):
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)]
    return symbol


def strike_step(spot: float) -> float:
    """Round strikes to a grid of about 1% of spot (1000 for BTC at 60k, 25 for ETH at 3k)."""
    raw = spot * 0.01
    magnitude = 10 ** np.floor(np.log10(raw))
    return float(min((1, 2.5, 5, 10), key=lambda m: abs(m * magnitude - raw)) * magnitude)


def next_expiries(at: datetime) -> list[datetime]:
    friday = (at + timedelta(days=(4 - at.weekday()) % 7)).replace(hour=8, minute=0, second=0, microsecond=0)
    if friday <= at:
        friday += timedelta(days=7)
    return [friday + timedelta(days=7 * k) for k in range(EXPIRIES_AHEAD)]


def chain_snapshot(symbol: str, seed: int, at: datetime, spot: float, atm_vol: float, hour: int) -> dict[str, np.ndarray]:
    """Every (expiry, call/put, strike) contract of one snapshot, in one vectorized step: its
    columns as arrays of one length (a day's snapshots become one frame, chain_frame)."""
    rng = np.random.default_rng([seed, symbol_key(symbol), 7, hour])
    step = strike_step(spot)
    strike_grid = np.unique(np.round(spot * (1 + STRIKE_OFFSETS) / step) * step)
    expiry_grid = next_expiries(at)
    expiry_index, is_call, strikes = (
        grid.ravel() for grid in np.meshgrid(np.arange(len(expiry_grid)), [True, False], strike_grid, indexing="ij")
    )
    expiries = [expiry_grid[i] for i in expiry_index]
    years = np.array([(expiry - at).total_seconds() / 86_400 / DAYS_PER_YEAR for expiry in expiries])
    moneyness = np.log(strikes / spot)
    vol = atm_vol * (1 + SMILE_CURVATURE * moneyness**2)
    # Calls crowd above spot, puts below; open interest decays away from the money.
    skew = np.where(is_call, moneyness, -moneyness)
    open_interest = OPEN_INTEREST_ATM * np.exp(-8 * moneyness**2 + skew) * rng.lognormal(0, 0.3, len(strikes))
    underlying = underlying_of(symbol)
    n = len(strikes)
    return {
        "exchange": np.full(n, SYNTHETIC_EXCHANGE, dtype=object),
        "underlying": np.full(n, underlying, dtype=object),
        "instrument": np.array(
            [
                f"{underlying}-{expiry:%d%b%y}".upper() + f"-{strike:g}-{'C' if call else 'P'}"
                for expiry, strike, call in zip(expiries, strikes, is_call)
            ],
            dtype=object,
        ),
        "ts": np.full(n, np.datetime64(at.replace(tzinfo=None), "us")),
        "expiry_at": np.array([np.datetime64(e.replace(tzinfo=None), "us") for e in expiries]),
        "strike": strikes,
        "option_type": np.where(is_call, "call", "put").astype(object),
        "open_interest": np.round(open_interest, 1),
        "mark_price": np.round(bs.price(spot, strikes, years, vol, is_call) / spot, 8),
        "mark_iv": np.round(vol * 100, 4),
        "delta": bs.delta(spot, strikes, years, vol, is_call),
        "gamma": bs.gamma(spot, strikes, years, vol),
        "vega": bs.vega(spot, strikes, years, vol) / 100,
        "underlying_price": np.full(n, round(spot, 2)),
        "contract_size": np.full(n, 1.0),
    }


def chain_frame(snapshots: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """Snapshots' columns (chain_snapshot) as one frame: one construction, not one per snapshot."""
    return pd.DataFrame({column: np.concatenate([snapshot[column] for snapshot in snapshots])
                         for column in snapshots[0]})
