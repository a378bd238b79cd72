"""Binance daily archive CSVs (trades, aggTrades, klines) into raw-table rows plus rejects.

Layouts in the wild: spot files have no header, futures files have one (older futures
files do not); spot timestamps are milliseconds before 2025-01-01 and microseconds
from then on, detected per value by magnitude. ``is_buyer_maker`` true means the taker
sold. Every rule a line can break is checked here; the first broken rule is its reason.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TextIO

import numpy as np
import pandas as pd

from sniper.ingest.lines import (
    Batch,
    LineBatch,
    ReasonBuilder,
    as_bool,
    as_integer,
    as_number,
    iter_line_batches,
    read_fields,
    split_by_field_count,
)

EXCHANGE = "binance"
TRADE_COLUMNS = ["id", "price", "qty", "quote_qty", "time", "is_buyer_maker"]
AGG_TRADE_COLUMNS = [
    "agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time", "is_buyer_maker",
]
KLINE_COLUMNS = [
    "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
    "taker_buy_volume", "taker_buy_quote_volume", "ignore",
]
# Spot trade and aggTrade files carry a trailing is_best_match column; futures files do not.
COLUMNS = {
    ("trades", "spot"): [*TRADE_COLUMNS, "is_best_match"],
    ("trades", "um"): TRADE_COLUMNS,
    ("aggTrades", "spot"): [*AGG_TRADE_COLUMNS, "is_best_match"],
    ("aggTrades", "um"): AGG_TRADE_COLUMNS,
    ("klines", "spot"): KLINE_COLUMNS,
    ("klines", "um"): KLINE_COLUMNS,
}
TARGET_TABLE = {"trades": "raw.trades", "aggTrades": "raw.agg_trades", "klines": "raw.klines"}
# A millisecond timestamp stays below 1e14 until the year 5138; a microsecond one passed
# it in 1973. Binance switched spot archives to microseconds on 2025-01-01.
MICROSECOND_THRESHOLD = 10**14
MICROS_PER_DAY = 86_400_000_000


class ArchiveContentError(Exception):
    """The archive's CSV cannot be read as this kind at all (empty, foreign header)."""


def to_micros(values: np.ndarray) -> np.ndarray:
    """Epoch timestamps in ms or µs (detected per value) as µs.

    >>> to_micros(np.array([1717200000123, 1735689600000123])).tolist()
    [1717200000123000, 1735689600000123]
    """
    values = np.asarray(values, dtype=np.int64)
    return np.where(values >= MICROSECOND_THRESHOLD, values, values * 1000)


def micros_to_datetime(micros: np.ndarray) -> np.ndarray:
    return np.asarray(micros, dtype=np.int64).astype("datetime64[us]")


def day_bounds_us(day: date) -> tuple[int, int]:
    start = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()) * 1_000_000
    return start, start + MICROS_PER_DAY


@dataclass(frozen=True)
class ArchiveContext:
    """What the archive must contain: one symbol's rows of one kind, all inside one UTC day."""

    market: str
    kind: str
    symbol: str
    day: date
    interval: str | None = None

    @property
    def columns(self) -> list[str]:
        return COLUMNS[(self.kind, self.market)]

    @property
    def table(self) -> str:
        return TARGET_TABLE[self.kind]


def iter_batches(stream: TextIO, context: ArchiveContext, batch_rows: int) -> Iterator[Batch]:
    """Parse a whole archive CSV, ``batch_rows`` lines at a time; a header line is recognised and checked."""
    first = stream.readline()
    if not first.strip():
        raise ArchiveContentError("the archive's CSV is empty")
    first_line = first.lstrip("\ufeff")
    if first_line[:1].isdigit():
        lines, first_number = itertools.chain([first_line], stream), 1
    else:
        header = [name.strip() for name in first_line.rstrip("\r\n").split(",")]
        if header != context.columns:
            raise ArchiveContentError(
                f"unexpected header {','.join(header)!r} for {context.market} {context.kind} "
                f"(expected {','.join(context.columns)!r})"
            )
        lines, first_number = stream, 2
    parse = {"trades": parse_trades, "aggTrades": parse_agg_trades, "klines": parse_klines}[context.kind]
    seen = False
    for batch in iter_line_batches(lines, batch_rows, first_number=first_number):
        seen = True
        yield parse(batch, context)
    if not seen:
        raise ArchiveContentError("the archive's CSV has a header but no rows")


def _fields(batch: LineBatch, context: ArchiveContext) -> tuple[LineBatch, pd.DataFrame, list]:
    kept, rejects = split_by_field_count(batch, len(context.columns))
    return kept, read_fields(kept, context.columns), rejects


def _check_time(reasons: ReasonBuilder, micros: np.ndarray, bad_int: np.ndarray, context: ArchiveContext, name: str):
    start, end = day_bounds_us(context.day)
    reasons.add(bad_int, f"{name} is not an integer timestamp")
    reasons.add((micros < start) | (micros >= end), f"{name} is outside {context.day.isoformat()} UTC")


def _identity(context: ArchiveContext) -> dict[str, object]:
    return {"exchange": EXCHANGE, "market": context.market, "symbol": context.symbol}


def parse_trades(batch: LineBatch, context: ArchiveContext) -> Batch:
    kept, frame, rejects = _fields(batch, context)
    reasons = ReasonBuilder(len(frame))
    trade_id, bad_id = as_integer(frame["id"])
    price = as_number(frame["price"])
    qty = as_number(frame["qty"])
    quote_qty = as_number(frame["quote_qty"])
    raw_time, bad_time = as_integer(frame["time"])
    micros = to_micros(raw_time.to_numpy())
    maker, bad_maker = as_bool(frame["is_buyer_maker"])
    reasons.add(bad_id, "trade id is not an integer")
    reasons.add(price.isna(), "price is not a number")
    reasons.add(qty.isna(), "quantity is not a number")
    reasons.add(quote_qty.isna(), "quote quantity is not a number")
    reasons.add(price <= 0, "price is not positive")
    reasons.add(qty <= 0, "quantity is not positive")
    _check_time(reasons, micros, bad_time, context, "time")
    reasons.add(bad_maker, "is_buyer_maker is not true/false")
    good = ~reasons.bad
    rows = pd.DataFrame(
        {
            **_identity(context),
            "trade_id": trade_id.to_numpy()[good],
            "ts": micros_to_datetime(micros[good]),
            "price": price.to_numpy()[good],
            "qty": qty.to_numpy()[good],
            "quote_qty": quote_qty.to_numpy()[good],
            "is_buyer_maker": maker.to_numpy()[good],
        }
    )
    return Batch(tables={context.table: rows}, rejects=rejects + reasons.rejects(kept))


def parse_agg_trades(batch: LineBatch, context: ArchiveContext) -> Batch:
    kept, frame, rejects = _fields(batch, context)
    reasons = ReasonBuilder(len(frame))
    agg_id, bad_id = as_integer(frame["agg_trade_id"])
    price = as_number(frame["price"])
    qty = as_number(frame["quantity"])
    first_id, bad_first = as_integer(frame["first_trade_id"])
    last_id, bad_last = as_integer(frame["last_trade_id"])
    raw_time, bad_time = as_integer(frame["transact_time"])
    micros = to_micros(raw_time.to_numpy())
    maker, bad_maker = as_bool(frame["is_buyer_maker"])
    reasons.add(bad_id, "aggregate trade id is not an integer")
    reasons.add(price.isna(), "price is not a number")
    reasons.add(qty.isna(), "quantity is not a number")
    reasons.add(price <= 0, "price is not positive")
    reasons.add(qty <= 0, "quantity is not positive")
    reasons.add(bad_first | bad_last, "first/last trade id is not an integer")
    reasons.add(first_id.to_numpy() > last_id.to_numpy(), "first trade id is after last trade id")
    _check_time(reasons, micros, bad_time, context, "transact_time")
    reasons.add(bad_maker, "is_buyer_maker is not true/false")
    good = ~reasons.bad
    rows = pd.DataFrame(
        {
            **_identity(context),
            "agg_trade_id": agg_id.to_numpy()[good],
            "ts": micros_to_datetime(micros[good]),
            "price": price.to_numpy()[good],
            "qty": qty.to_numpy()[good],
            "first_trade_id": first_id.to_numpy()[good],
            "last_trade_id": last_id.to_numpy()[good],
            "is_buyer_maker": maker.to_numpy()[good],
        }
    )
    return Batch(tables={context.table: rows}, rejects=rejects + reasons.rejects(kept))


KLINE_PRICES = ["open", "high", "low", "close"]
KLINE_AMOUNTS = ["volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"]


def parse_klines(batch: LineBatch, context: ArchiveContext) -> Batch:
    kept, frame, rejects = _fields(batch, context)
    reasons = ReasonBuilder(len(frame))
    raw_open, bad_open = as_integer(frame["open_time"])
    raw_close, bad_close = as_integer(frame["close_time"])
    open_us, close_us = to_micros(raw_open.to_numpy()), to_micros(raw_close.to_numpy())
    values = {name: as_number(frame[name]) for name in KLINE_PRICES + KLINE_AMOUNTS}
    count, bad_count = as_integer(frame["count"])
    for name in KLINE_PRICES + KLINE_AMOUNTS:
        reasons.add(values[name].isna(), f"{name} is not a number")
    reasons.add(bad_count, "count is not an integer")
    for name in KLINE_PRICES:
        reasons.add(values[name] <= 0, f"{name} is not positive")
    for name in KLINE_AMOUNTS:
        reasons.add(values[name] < 0, f"{name} is negative")
    reasons.add(count.to_numpy() < 0, "count is negative")
    high, low = values["high"].to_numpy(), values["low"].to_numpy()
    others = np.vstack([values[name].to_numpy() for name in KLINE_PRICES])
    reasons.add((high < others.max(axis=0)) | (low > others.min(axis=0)), "high/low do not bound open/close")
    _check_time(reasons, open_us, bad_open, context, "open_time")
    reasons.add(bad_close, "close_time is not an integer timestamp")
    reasons.add(close_us < open_us, "close_time is before open_time")
    good = ~reasons.bad
    rows = pd.DataFrame(
        {
            **_identity(context),
            "interval": context.interval,
            "open_at": micros_to_datetime(open_us[good]),
            "close_at": micros_to_datetime(close_us[good]),
            **{name: values[name].to_numpy()[good] for name in KLINE_PRICES},
            "volume": values["volume"].to_numpy()[good],
            "quote_volume": values["quote_volume"].to_numpy()[good],
            "trade_count": count.to_numpy()[good],
            "taker_buy_volume": values["taker_buy_volume"].to_numpy()[good],
            "taker_buy_quote_volume": values["taker_buy_quote_volume"].to_numpy()[good],
        }
    )
    return Batch(tables={context.table: rows}, rejects=rejects + reasons.rejects(kept))
