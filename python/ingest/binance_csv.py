"""Binance spot and futures archive CSVs (trades, aggTrades, klines) into raw-table rows plus rejects.

Layouts in the wild: spot files have no header, futures files have one (older futures
files do not); spot timestamps are milliseconds before 2025-01-01 and microseconds
from then on, detected per value by magnitude. ``is_buyer_maker`` true means the taker
sold. Every rule a line can break is checked here; the first broken rule is its reason.
The helpers at the top (timestamps, the archive's period, identity columns) serve the
USD-M futures parsers too (binance_futures_csv.py); archive_kinds.py ties each kind to
its columns, table and parser.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd

from sniper.ingest.config import Cadence
from sniper.ingest.lines import (
    Batch,
    Bound,
    LineBatch,
    ReasonBuilder,
    as_bool,
    as_integer,
    read_fields,
    split_by_field_count,
)

EXCHANGE = "binance"
TRADE_COLUMNS = ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker")
AGG_TRADE_COLUMNS = (
    "agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time", "is_buyer_maker",
)
KLINE_COLUMNS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
    "taker_buy_volume", "taker_buy_quote_volume", "ignore",
)
# Spot trade and aggTrade files carry a trailing is_best_match column; futures files do not.
SPOT_TRADE_COLUMNS = (*TRADE_COLUMNS, "is_best_match")
SPOT_AGG_TRADE_COLUMNS = (*AGG_TRADE_COLUMNS, "is_best_match")
# A millisecond timestamp stays below 1e14 until the year 5138; a microsecond one passed
# it in 1973. Binance switched spot archives to microseconds on 2025-01-01.
MICROSECOND_THRESHOLD = 10**14
MICROS_PER_DAY = 86_400_000_000
# A published amount that is a product (quote_qty = price x qty) or a sum of products
# (a kline's quote_volume) may differ from our float64 product by the exchange's rounding
# to the decimals it prints (one unit of the last printed digit: rounding or truncation)
# plus this relative slack.
AMOUNT_RELATIVE_TOLERANCE = 1e-6


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


def month_bounds_us(first_day: date) -> tuple[int, int]:
    """[start, end) in µs of the UTC calendar month starting on ``first_day``.

    >>> month_bounds_us(date(2024, 2, 1))[1] - month_bounds_us(date(2024, 2, 1))[0] == 29 * MICROS_PER_DAY
    True
    """
    following = date(first_day.year + first_day.month // 12, first_day.month % 12 + 1, 1)
    return day_bounds_us(first_day)[0], day_bounds_us(following)[0]


@dataclass(frozen=True)
class ArchiveContext:
    """What the archive must contain: one symbol's rows of one kind, all inside one UTC day (or month)."""

    market: str
    kind: str
    symbol: str
    day: date  # a monthly archive: the first day of its month
    columns: tuple[str, ...]  # as published, the header a file may start with
    table: str
    interval: str | None = None
    cadence: Cadence = "daily"

    @property
    def period(self) -> str:
        return self.day.strftime("%Y-%m") if self.cadence == "monthly" else self.day.isoformat()

    @property
    def bounds_us(self) -> tuple[int, int]:
        return month_bounds_us(self.day) if self.cadence == "monthly" else day_bounds_us(self.day)


def fields(batch: LineBatch, context: ArchiveContext) -> tuple[LineBatch, pd.DataFrame, list]:
    """The lines with the right number of fields, parsed under the published column names; rejects for the others."""
    kept, rejects = split_by_field_count(batch, len(context.columns))
    return kept, read_fields(kept, list(context.columns)), rejects


def check_time(reasons: ReasonBuilder, micros: np.ndarray, bad_int: np.ndarray, context: ArchiveContext, name: str):
    """An epoch column (ms or µs, already made µs): an integer, inside the archive's UTC day or month."""
    reasons.add(bad_int, f"{name} is not an integer timestamp")
    check_period(reasons, micros, context, name)


def check_period(reasons: ReasonBuilder, micros: np.ndarray, context: ArchiveContext, name: str) -> None:
    start, end = context.bounds_us
    reasons.add((micros < start) | (micros >= end), f"{name} is outside {context.period} UTC")


def identity(context: ArchiveContext) -> dict[str, object]:
    return {"exchange": EXCHANGE, "market": context.market, "symbol": context.symbol}


def printed_field(batch: LineBatch, column: int) -> Callable[[np.ndarray], list[str]]:
    """The text of field ``column`` of the given lines (for the few rows whose amounts need a second look)."""
    return lambda rows: [batch.lines[i].split(",")[column] for i in rows]


def unit_of_last_digit(text: str) -> float:
    """10^-d for a number printed with d decimals: the largest error of rounding or truncating it to that print.

    >>> unit_of_last_digit("61.50001000"), unit_of_last_digit("270"), unit_of_last_digit("2.7E+2")
    (1e-08, 1.0, 10.0)
    """
    try:
        exponent = Decimal(text.strip()).as_tuple().exponent
    except InvalidOperation:
        return 0.0
    return 10.0**exponent if isinstance(exponent, int) else 0.0


def outside_with_rounding(
    amount: np.ndarray, low: np.ndarray, high: np.ndarray, printed: Callable[[np.ndarray], list[str]]
) -> np.ndarray:
    """Where a published amount lies outside [low, high] by more than its print's precision and the relative slack.

    The rounding term needs the field's text, so it is computed only for the rows that
    fail the relative test alone (normally none). NaN amounts are never flagged here.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # absurd but finite values may overflow: never suspect
        slack = AMOUNT_RELATIVE_TOLERANCE * np.maximum(np.abs(low), np.abs(high))
        gap = np.maximum(low - amount, amount - high)
        suspect = gap > slack
    rows = np.flatnonzero(suspect)
    if len(rows):
        rounding = np.array([unit_of_last_digit(text) for text in printed(rows)])
        suspect[rows] = gap[rows] > slack[rows] + rounding
    return suspect


def _check_notional(reasons: ReasonBuilder, price: np.ndarray, qty: np.ndarray) -> np.ndarray:
    """price x qty, and a reason where two finite numbers multiply beyond float8 (1e200 x 1e200)."""
    with np.errstate(over="ignore"):
        notional = price * qty
    reasons.add(np.isinf(notional), "price x quantity is not a finite number")
    return notional


def parse_trades(batch: LineBatch, context: ArchiveContext) -> Batch:
    kept, frame, rejects = fields(batch, context)
    reasons = ReasonBuilder(len(frame))
    trade_id, bad_id = as_integer(frame["id"])
    reasons.add(bad_id, "trade id is not an integer")
    price = reasons.number(frame["price"], "price", Bound.POSITIVE)
    qty = reasons.number(frame["qty"], "quantity", Bound.POSITIVE)
    quote_qty = reasons.number(frame["quote_qty"], "quote quantity", Bound.NON_NEGATIVE)
    notional = _check_notional(reasons, price, qty)
    reasons.add(
        outside_with_rounding(quote_qty, notional, notional, printed_field(kept, context.columns.index("quote_qty"))),
        "quote quantity is not price x quantity",
    )
    raw_time, bad_time = as_integer(frame["time"])
    micros = to_micros(raw_time.to_numpy())
    check_time(reasons, micros, bad_time, context, "time")
    maker, bad_maker = as_bool(frame["is_buyer_maker"])
    reasons.add(bad_maker, "is_buyer_maker is not true/false")
    good = ~reasons.bad
    rows = pd.DataFrame(
        {
            **identity(context),
            "trade_id": trade_id.to_numpy()[good],
            "ts": micros_to_datetime(micros[good]),
            "price": price[good],
            "qty": qty[good],
            "quote_qty": quote_qty[good],
            "is_buyer_maker": maker.to_numpy()[good],
        }
    )
    return to_batch(context, rows, reasons, kept, rejects)


def to_batch(
    context: ArchiveContext, rows: pd.DataFrame, reasons: ReasonBuilder, kept: LineBatch, rejects: list
) -> Batch:
    """The batch of the archive's table: the rows that passed, the rejects of parsing, and each row's line."""
    return Batch(
        tables={context.table: rows},
        rejects=rejects + reasons.rejects(kept),
        origins={context.table: reasons.origins(kept)},
    )


def parse_agg_trades(batch: LineBatch, context: ArchiveContext) -> Batch:
    kept, frame, rejects = fields(batch, context)
    reasons = ReasonBuilder(len(frame))
    agg_id, bad_id = as_integer(frame["agg_trade_id"])
    reasons.add(bad_id, "aggregate trade id is not an integer")
    price = reasons.number(frame["price"], "price", Bound.POSITIVE)
    qty = reasons.number(frame["quantity"], "quantity", Bound.POSITIVE)
    _check_notional(reasons, price, qty)
    first_id, bad_first = as_integer(frame["first_trade_id"])
    last_id, bad_last = as_integer(frame["last_trade_id"])
    reasons.add(bad_first | bad_last, "first/last trade id is not an integer")
    reasons.add(first_id.to_numpy() > last_id.to_numpy(), "first trade id is after last trade id")
    raw_time, bad_time = as_integer(frame["transact_time"])
    micros = to_micros(raw_time.to_numpy())
    check_time(reasons, micros, bad_time, context, "transact_time")
    maker, bad_maker = as_bool(frame["is_buyer_maker"])
    reasons.add(bad_maker, "is_buyer_maker is not true/false")
    good = ~reasons.bad
    rows = pd.DataFrame(
        {
            **identity(context),
            "agg_trade_id": agg_id.to_numpy()[good],
            "ts": micros_to_datetime(micros[good]),
            "price": price[good],
            "qty": qty[good],
            "first_trade_id": first_id.to_numpy()[good],
            "last_trade_id": last_id.to_numpy()[good],
            "is_buyer_maker": maker.to_numpy()[good],
        }
    )
    return to_batch(context, rows, reasons, kept, rejects)


KLINE_PRICES = ["open", "high", "low", "close"]
KLINE_AMOUNTS = ["volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"]


def _check_kline_amounts(reasons: ReasonBuilder, values: dict[str, np.ndarray], kept: LineBatch) -> None:
    """Taker-buy parts within their totals; quote_volume (sum of price x qty) between low and high x volume."""
    reasons.add(values["taker_buy_volume"] > values["volume"], "taker_buy_volume exceeds volume")
    reasons.add(
        values["taker_buy_quote_volume"] > values["quote_volume"], "taker_buy_quote_volume exceeds quote_volume"
    )
    with np.errstate(over="ignore"):
        low, high = values["low"] * values["volume"], values["high"] * values["volume"]
    printed = printed_field(kept, KLINE_COLUMNS.index("quote_volume"))
    outside = outside_with_rounding(values["quote_volume"], low, high, printed)
    reasons.add(outside, "quote_volume is outside low..high x volume")


def parse_klines(batch: LineBatch, context: ArchiveContext) -> Batch:
    kept, frame, rejects = fields(batch, context)
    reasons = ReasonBuilder(len(frame))
    raw_open, bad_open = as_integer(frame["open_time"])
    raw_close, bad_close = as_integer(frame["close_time"])
    open_us, close_us = to_micros(raw_open.to_numpy()), to_micros(raw_close.to_numpy())
    values = {name: reasons.number(frame[name], name, Bound.POSITIVE) for name in KLINE_PRICES}
    values |= {name: reasons.number(frame[name], name, Bound.NON_NEGATIVE) for name in KLINE_AMOUNTS}
    count, bad_count = as_integer(frame["count"])
    reasons.add(bad_count, "count is not an integer")
    reasons.add(count.to_numpy() < 0, "count is negative")
    high, low = values["high"], values["low"]
    others = np.vstack([values[name] for name in KLINE_PRICES])
    reasons.add((high < others.max(axis=0)) | (low > others.min(axis=0)), "high/low do not bound open/close")
    _check_kline_amounts(reasons, values, kept)
    check_time(reasons, open_us, bad_open, context, "open_time")
    reasons.add(bad_close, "close_time is not an integer timestamp")
    reasons.add(close_us < open_us, "close_time is before open_time")
    good = ~reasons.bad
    rows = pd.DataFrame(
        {
            **identity(context),
            "interval": context.interval,
            "open_at": micros_to_datetime(open_us[good]),
            "close_at": micros_to_datetime(close_us[good]),
            **{name: values[name][good] for name in KLINE_PRICES},
            "volume": values["volume"][good],
            "quote_volume": values["quote_volume"][good],
            "trade_count": count.to_numpy()[good],
            "taker_buy_volume": values["taker_buy_volume"][good],
            "taker_buy_quote_volume": values["taker_buy_quote_volume"][good],
        }
    )
    return to_batch(context, rows, reasons, kept, rejects)
