"""Trades and L1 quotes of one symbol, a span of hours at a time, from its minute path.

Every taker order sees an L1 quote at its own timestamp and fills at that quote
(buys at the ask, sells at the bid; a whale sweeps further levels, its fills sharing
one timestamp). Taker side follows the planted tilt; so does the L1 size imbalance,
more weakly. Icebergs pin one side of the book at a price and refill it there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sniper.synth.config import SYNTHETIC_EXCHANGE, SYNTHETIC_MARKET, SynthConfig, start_price, tick_size
from sniper.synth.paths import MinutePath, symbol_key

US_PER_MINUTE = 60_000_000
US_PER_HOUR = 3_600_000_000
# Ids are hour-major, so any day regenerates the same ids whatever was loaded before it;
# a span of hours numbers its rows from its first hour (a day holds < 10 million per hour).
IDS_PER_HOUR = 10_000_000
LOT = 1e-5
REGULAR_NOTIONAL_MEDIAN = 300.0
WHALE_NOTIONAL_MEDIAN = 150_000.0
L1_NOTIONAL_MEDIAN = 50_000.0
WHALE_MAX_LEVELS = 4
MEAN_WHALE_FILLS = (2 + WHALE_MAX_LEVELS) / 2
# How strongly the tilt moves taker side (regular, whale) and the L1 size imbalance.
TAKER_SIDE_GAIN = 0.4
WHALE_SIDE_GAIN = 0.49
L1_IMBALANCE_GAIN = 0.8


@dataclass(frozen=True)
class Iceberg:
    """A resting order showing ``display_qty`` at ``price`` and refilling ``refills`` times."""

    side: str  # "bid": a hidden buyer absorbing taker sells; "ask": a hidden seller
    price: float
    start_us: int  # microseconds from the path origin
    spacing_us: int
    display_qty: float
    refills: int

    @property
    def clip_times_us(self) -> np.ndarray:
        return self.start_us + self.spacing_us * np.arange(self.refills + 1)

    @property
    def end_us(self) -> int:
        return int(self.clip_times_us[-1])


@dataclass(frozen=True)
class SpanTicks:
    trades: pd.DataFrame
    quotes: pd.DataFrame
    icebergs: list[Iceberg]


class TickGenerator:
    def __init__(self, config: SynthConfig, symbol: str, path: MinutePath):
        self.config = config
        self.symbol = symbol
        self.path = path
        self.tick = tick_size(start_price(symbol))
        whale_fills = 1 + config.whale_share * (MEAN_WHALE_FILLS - 1)
        self.orders_per_hour = config.trades_per_day / 24 / whale_fills

    def _rng(self, first_hour: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, symbol_key(self.symbol), 1 + stream, first_hour])

    def mid_at(self, t_us: np.ndarray) -> np.ndarray:
        minute = np.minimum(t_us // US_PER_MINUTE, self.path.n_minutes - 1)
        frac = (t_us - minute * US_PER_MINUTE) / US_PER_MINUTE
        log_mid = self.path.log_mid
        return np.exp(log_mid[minute] + frac * (log_mid[minute + 1] - log_mid[minute]))

    def _book(self, t_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        bid = np.floor(self.mid_at(t_us) / self.tick) * self.tick
        return np.round(bid, 8), np.round(bid + self.tick, 8)

    def plan_icebergs(self, hour: int) -> list[Iceberg]:
        rng = self._rng(hour, stream=3)
        count = rng.poisson(self.config.icebergs_per_day / 24)
        icebergs = []
        for _ in range(count):
            spacing_us = int(rng.integers(2, 11)) * 1_000_000
            refills = int(rng.integers(3, 9))
            span = spacing_us * refills
            start_us = hour * US_PER_HOUR + int(rng.integers(1_000_000, US_PER_HOUR - span - 2_000_000))
            side = "bid" if rng.random() < 0.5 else "ask"
            bid, ask = self._book(np.array([start_us]))
            price = float(bid[0] if side == "bid" else ask[0])
            display_notional = float(rng.uniform(10_000, 40_000))
            display_qty = max(LOT, round(display_notional / price, 5))
            icebergs.append(Iceberg(side, price, start_us, spacing_us, display_qty, refills))
        # One iceberg per side at a time keeps the pinned book well defined.
        icebergs.sort(key=lambda iceberg: iceberg.start_us)
        kept: list[Iceberg] = []
        for iceberg in icebergs:
            if all(other.end_us < iceberg.start_us or other.side != iceberg.side for other in kept):
                kept.append(iceberg)
        return kept

    def span(self, first_hour: int, n_hours: int) -> SpanTicks:
        """Ticks of hours [first_hour, first_hour + n_hours); same span, same rows."""
        rng = self._rng(first_hour, stream=1)
        n_orders = rng.poisson(self.orders_per_hour * n_hours)
        order_us = np.sort(rng.integers(0, US_PER_HOUR * n_hours, n_orders)) + first_hour * US_PER_HOUR
        minute = np.minimum(order_us // US_PER_MINUTE, self.path.n_minutes - 1)
        tilt = self.path.tilt[minute]
        is_whale = rng.random(n_orders) < self.config.whale_share
        gain = np.where(is_whale, WHALE_SIDE_GAIN, TAKER_SIDE_GAIN)
        is_buy = rng.random(n_orders) < 0.5 + gain * tilt
        median = np.where(is_whale, WHALE_NOTIONAL_MEDIAN, REGULAR_NOTIONAL_MEDIAN)
        notional = median * rng.lognormal(0.0, np.where(is_whale, 0.5, 1.0))
        fills = np.where(is_whale, rng.integers(2, WHALE_MAX_LEVELS + 1, n_orders), 1)

        icebergs = [i for hour in range(first_hour, first_hour + n_hours) for i in self.plan_icebergs(hour)]
        bid, ask = self._book(order_us)
        pinned_bid, pinned_ask = self._pins(order_us, icebergs)
        bid, ask = _apply_pins(bid, ask, pinned_bid, pinned_ask, self.tick)

        # Expand orders into fills: a whale sweeps `fills` consecutive price levels.
        order_of_fill = np.repeat(np.arange(n_orders), fills)
        first_fill = np.repeat(np.cumsum(fills) - fills, fills)
        level = np.arange(len(order_of_fill)) - first_fill
        buy = is_buy[order_of_fill]
        # An iceberg holds its level: a sweep into it fills there and goes no further.
        held = np.where(buy, ~np.isnan(pinned_ask[order_of_fill]), ~np.isnan(pinned_bid[order_of_fill]))
        level = np.where(held, 0, level)
        price = np.where(buy, ask[order_of_fill] + level * self.tick, bid[order_of_fill] - level * self.tick)
        price = np.round(price, 8)
        qty = np.maximum(LOT, np.round(notional[order_of_fill] / fills[order_of_fill] / price, 5))
        trades = pd.DataFrame(
            {"t_us": order_us[order_of_fill], "price": price, "qty": qty, "is_buyer_maker": ~buy, "rank": level}
        )
        trades = pd.concat([trades, self._iceberg_fills(icebergs)], ignore_index=True)
        trades = trades.sort_values(["t_us", "rank"], kind="stable").reset_index(drop=True)
        trades["trade_id"] = first_hour * IDS_PER_HOUR + np.arange(1, len(trades) + 1)

        quotes = self._quotes(rng, first_hour, n_hours, order_us, icebergs)
        return SpanTicks(trades=self._finish_trades(trades), quotes=quotes, icebergs=icebergs)

    def _pins(self, t_us: np.ndarray, icebergs: list[Iceberg]) -> tuple[np.ndarray, np.ndarray]:
        """Per timestamp, the price an active iceberg pins on each side (NaN: none)."""
        pinned_bid = np.full(len(t_us), np.nan)
        pinned_ask = np.full(len(t_us), np.nan)
        for iceberg in icebergs:
            active = (t_us >= iceberg.start_us) & (t_us <= iceberg.end_us)
            (pinned_bid if iceberg.side == "bid" else pinned_ask)[active] = iceberg.price
        return pinned_bid, pinned_ask

    def _iceberg_fills(self, icebergs: list[Iceberg]) -> pd.DataFrame:
        """Each clip of displayed size is taken by one taker order at the iceberg's price."""
        frames = []
        for iceberg in icebergs:
            clips = iceberg.clip_times_us
            frames.append(
                pd.DataFrame(
                    {
                        "t_us": clips,
                        "price": iceberg.price,
                        "qty": iceberg.display_qty,
                        "is_buyer_maker": iceberg.side == "bid",
                        "rank": 0,
                    }
                )
            )
        columns = ["t_us", "price", "qty", "is_buyer_maker", "rank"]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)

    def _quotes(
        self, rng: np.random.Generator, first_hour: int, n_hours: int, order_us: np.ndarray, icebergs
    ) -> pd.DataFrame:
        n_extra = rng.poisson(len(order_us) * self.config.extra_quotes_per_order)
        extra_us = rng.integers(0, US_PER_HOUR * n_hours, n_extra) + first_hour * US_PER_HOUR
        # An iceberg shows its display before the first clip, as each clip is taken, and after
        # each refill.
        iceberg_us = [
            np.concatenate([[i.start_us - 1_000], i.clip_times_us, i.clip_times_us[:-1] + 500]) for i in icebergs
        ]
        t_us = np.sort(np.concatenate([order_us, extra_us, *iceberg_us]).astype(np.int64))
        minute = np.minimum(t_us // US_PER_MINUTE, self.path.n_minutes - 1)
        tilt = self.path.tilt[minute]
        bid, ask = self._book(t_us)
        pinned_bid, pinned_ask = self._pins(t_us, icebergs)
        # The display quote just before the first clip is inside the pinned span too.
        for iceberg in icebergs:
            early = t_us == iceberg.start_us - 1_000
            (pinned_bid if iceberg.side == "bid" else pinned_ask)[early] = iceberg.price
        bid, ask = _apply_pins(bid, ask, pinned_bid, pinned_ask, self.tick)
        imbalance = np.exp(L1_IMBALANCE_GAIN * tilt / 2)
        bid_qty = L1_NOTIONAL_MEDIAN * rng.lognormal(0.0, 0.6, len(t_us)) * imbalance / bid
        ask_qty = L1_NOTIONAL_MEDIAN * rng.lognormal(0.0, 0.6, len(t_us)) / imbalance / ask
        for iceberg in icebergs:
            active = ~np.isnan(pinned_bid if iceberg.side == "bid" else pinned_ask)
            active &= (t_us >= iceberg.start_us - 1_000) & (t_us <= iceberg.end_us)
            (bid_qty if iceberg.side == "bid" else ask_qty)[active] = iceberg.display_qty
        return pd.DataFrame(
            {
                "exchange": SYNTHETIC_EXCHANGE,
                "market": SYNTHETIC_MARKET,
                "symbol": self.symbol,
                "update_id": first_hour * IDS_PER_HOUR + np.arange(1, len(t_us) + 1),
                "ts": self._timestamps(t_us),
                "bid_price": bid,
                "bid_qty": np.maximum(LOT, np.round(bid_qty, 5)),
                "ask_price": ask,
                "ask_qty": np.maximum(LOT, np.round(ask_qty, 5)),
            }
        )

    def _finish_trades(self, trades: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "exchange": SYNTHETIC_EXCHANGE,
                "market": SYNTHETIC_MARKET,
                "symbol": self.symbol,
                "trade_id": trades["trade_id"].to_numpy(),
                "ts": self._timestamps(trades["t_us"].to_numpy(dtype=np.int64)),
                "price": trades["price"].to_numpy(dtype=float),
                "qty": trades["qty"].to_numpy(dtype=float),
                "quote_qty": np.round(trades["price"].to_numpy(dtype=float) * trades["qty"].to_numpy(dtype=float), 8),
                "is_buyer_maker": trades["is_buyer_maker"].to_numpy(dtype=bool),
            }
        )

    def _timestamps(self, t_us: np.ndarray) -> np.ndarray:
        origin = np.datetime64(self.path.origin.replace(tzinfo=None), "us")
        return origin + t_us.astype("timedelta64[us]")


def _apply_pins(bid, ask, pinned_bid, pinned_ask, tick):
    """Where an iceberg pins a side, the book sits at its price; the other side stays a tick away."""
    has_bid_pin = ~np.isnan(pinned_bid)
    has_ask_pin = ~np.isnan(pinned_ask)
    bid = np.where(has_bid_pin, pinned_bid, bid)
    ask = np.where(has_bid_pin & ~has_ask_pin, np.round(pinned_bid + tick, 8), ask)
    ask = np.where(has_ask_pin, pinned_ask, ask)
    bid = np.where(has_ask_pin & ~has_bid_pin, np.round(pinned_ask - tick, 8), bid)
    # Both sides pinned at crossing prices cannot happen on a real book: keep the bid below.
    bid = np.minimum(bid, np.round(ask - tick, 8))
    return bid, ask
