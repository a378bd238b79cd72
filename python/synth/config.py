"""Typed parameters of the synthetic market, validated at the edge."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from sniper.instruments import Instrument

Regime = Literal["bull", "bear", "sideways"]
# The generator's instruments: exchange `synthetic`, spot (python/synth/ticks.py writes them).
SYNTHETIC_EXCHANGE = "synthetic"
SYNTHETIC_MARKET = "spot"


class RegimeParams(BaseModel):
    """Drift per calendar month (log return), volatility per day (stdev of daily log returns),
    and mean reversion per day towards the month's opening price (0: a random walk)."""

    drift_per_month: float
    vol_per_day: float = Field(gt=0)
    mean_reversion_per_day: float = Field(default=0.0, ge=0, le=100)


DEFAULT_REGIMES: dict[str, RegimeParams] = {
    # Trends of about two monthly standard deviations, as in BTC's clearer months.
    "bull": RegimeParams(drift_per_month=0.25, vol_per_day=0.020),
    "bear": RegimeParams(drift_per_month=-0.25, vol_per_day=0.025),
    # A range: prices revert to the month's open (half-life about 17 hours), so the month
    # ends near where it began however busy the days were.
    "sideways": RegimeParams(drift_per_month=0.0, vol_per_day=0.012, mean_reversion_per_day=1.0),
}
# Two of each within six months: enough for the roadmap's coverage rule (2 bull, 2 bear, 1 sideways).
DEFAULT_SCHEDULE: list[Regime] = ["bull", "bear", "sideways", "bull", "bear", "sideways"]
START_PRICES = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0}
FALLBACK_START_PRICE = 100.0


class SynthConfig(BaseModel):
    symbols: list[str] = Field(min_length=1)
    start: date
    months: int = Field(default=6, ge=1, le=120)
    # When set, the market ends after this many days (inside the months' span): for benchmarks.
    days: int | None = Field(default=None, ge=1, le=3660)
    seed: int = 7
    trades_per_day: int = Field(default=5_000, ge=100, le=5_000_000)
    # Calibrated for the demo (bench/bench_honesty.py, docs/evaluation.md "Calibrating the
    # demo"): walk-forward win rates of 0.58 to 0.64 and Sharpe ratios of 0.3 to 5.9 over
    # five seeds, four of them READY, where 0.5 gave a Sharpe near 19 that no trader would
    # believe.
    signal_strength: float = Field(default=0.125, ge=0.0, le=1.0)
    # "informed": the tilted taker flow knows the coming move (the planted signal).
    # "decoy": the flow is tilted exactly as much, by the coming move of an independent random
    # walk of the same volatility: the pattern a model learned keeps appearing but predicts
    # nothing (a signal switched off without the market looking any different; strength 0
    # instead takes the pattern away, and a model trained on it simply stops trading).
    signal_source: Literal["informed", "decoy"] = "informed"
    schedule: list[Regime] = Field(default_factory=lambda: list(DEFAULT_SCHEDULE))
    regimes: dict[str, RegimeParams] = Field(default_factory=lambda: dict(DEFAULT_REGIMES))
    # Minutes by which the informed taker flow leads the price it knows about.
    signal_lead_minutes: int = Field(default=15, ge=1, le=240)
    # Share of taker orders that are whales (large, multi-level sweeps, better informed).
    whale_share: float = Field(default=0.02, ge=0.0, le=0.5)
    icebergs_per_day: float = Field(default=2.0, ge=0.0, le=100.0)
    # Extra L1 updates per taker order, on top of the one quote every order sees.
    extra_quotes_per_order: float = Field(default=0.5, ge=0.0, le=10.0)

    @model_validator(mode="after")
    def _days_within_months(self) -> SynthConfig:
        if self.days is not None:
            from sniper.synth.paths import month_starts

            span = (month_starts(self.start, self.months)[-1] - self.start).days
            if self.days > span:
                raise ValueError(f"days={self.days} is longer than the {self.months} month(s) from start ({span} days)")
        return self

    @field_validator("schedule")
    @classmethod
    def _schedule_not_empty(cls, value: list[Regime]) -> list[Regime]:
        if not value:
            raise ValueError("the regime schedule needs at least one month")
        return value

    @property
    def instruments(self) -> list[Instrument]:
        return [Instrument(SYNTHETIC_EXCHANGE, SYNTHETIC_MARKET, symbol) for symbol in self.symbols]

    def regime_of_month(self, month_index: int) -> Regime:
        """The regime of the month_index-th calendar month from the start (schedule cycles)."""
        return self.schedule[month_index % len(self.schedule)]

    def fingerprint(self) -> str:
        """Identifies the generated market: same fingerprint, same rows."""
        excluded = {"symbols", "months", "days"}
        if self.signal_source == "informed":
            excluded.add("signal_source")  # added later: markets written before it keep their identity
        fields = self.model_dump(mode="json", exclude=excluded)
        return hashlib.sha256(repr(sorted(fields.items())).encode()).hexdigest()[:16]


def start_price(symbol: str) -> float:
    return START_PRICES.get(symbol, FALLBACK_START_PRICE)


def tick_size(price: float) -> float:
    """Binance's price increment for USDT pairs: 0.01 above 10 USDT, 0.0001 below."""
    return 0.01 if price >= 10 else 0.0001
