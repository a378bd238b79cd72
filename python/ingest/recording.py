"""Recorded Binance combined streams (`<receive ns> <json>` lines) into trades and L1 quotes.

``@trade`` messages become raw.trades rows, ``@bookTicker`` messages raw.l1_quotes rows;
``@depth`` updates, REST depth snapshots and other streams are skipped and counted.
Spot vs USD-M futures comes from the messages (futures trades carry ``X``, futures
bookTickers carry ``T``/``E``) unless given. Spot bookTicker has no timestamp of its own,
so its row takes the local receive time; every other row takes the exchange's time.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from sniper.ingest.lines import Batch, LineBatch, Reject, RowOrigins, iter_line_batches

EXCHANGE = "binance"
# Exchange time and local receive time of one message differ by the network delay and
# the two clocks' offset (about 1.3 s in the reference captures). An hour apart means
# a garbled timestamp, not a slow network.
MAX_CLOCK_GAP_US = 3_600_000_000
# Receive times are epoch nanoseconds between 2010 and 2100.
MIN_RECEIVE_NS, MAX_RECEIVE_NS = 1_262_304_000 * 10**9, 4_102_444_800 * 10**9
PRESCAN_LINES = 50_000
# A trade message has no quote quantity: it is price x qty rounded to 8 decimals, the
# precision Binance's archives print it with, so that the same trade from a recording and
# from an archive is one row (a true duplicate), not two versions that conflict.
QUOTE_DECIMALS = 8
# Ids and times are stored as bigint: a JSON integer outside it is garbage, not an id.
MIN_BIGINT, MAX_BIGINT = -(2**63), 2**63 - 1
STREAM_PREFIX = '{"stream":"'


class RecordingProblem(Exception):
    """The recording cannot be loaded at all."""


class _Rejected(Exception):
    """One line is rejected; the message is the reason."""


@dataclass(frozen=True)
class RecordingShape:
    market: str
    symbol: str | None


@dataclass
class _Rows:
    """Rows per table, and the position in the batch of the line each came from."""

    trades: list[tuple] = field(default_factory=list)
    quotes: list[tuple] = field(default_factory=list)
    trade_lines: list[int] = field(default_factory=list)
    quote_lines: list[int] = field(default_factory=list)


def _split(line: str) -> tuple[int, str]:
    receive, sep, payload = line.partition(" ")
    if not sep or not receive.isdigit():
        raise _Rejected("expected '<receive time ns> <json>'")
    receive_ns = int(receive)
    if not MIN_RECEIVE_NS <= receive_ns < MAX_RECEIVE_NS:
        raise _Rejected("receive time is not epoch nanoseconds")
    return receive_ns, payload


def capture_line(receive_ns: int, message: str) -> str:
    """A message as a recording holds it: what the live recorder parses, so that rows
    written live equal rows loaded from a capture of the same messages."""
    return f"{receive_ns} {message}"


def stream_name(payload: str) -> str | None:
    """The stream a combined-stream message names (``btcusdt@trade``), read without parsing
    its JSON; None when the payload does not start the way Binance writes one."""
    if not payload.startswith(STREAM_PREFIX):
        return None
    end = payload.find('"', len(STREAM_PREFIX))
    return payload[len(STREAM_PREFIX) : end] if end > 0 else None


def _fast_skip(payload: str) -> str | None:
    """Depth updates and REST snapshots are skipped without parsing their (large) JSON."""
    stream = stream_name(payload)
    if stream is not None:
        if "@depth" in stream:
            return "depth"
    elif payload.startswith('{"lastUpdateId"'):
        return "snapshot"
    return None


def _message(payload: str) -> tuple[str, str, dict] | str:
    """(stream symbol, channel, data) of a stream message, or the skip kind of anything else."""
    try:
        message = json.loads(payload)
    except ValueError:
        raise _Rejected("not valid JSON") from None
    if not isinstance(message, dict):
        raise _Rejected("JSON is not an object")
    if "stream" not in message:
        if "lastUpdateId" in message:
            return "snapshot"
        raise _Rejected("neither a stream message nor a depth snapshot")
    stream, data = message["stream"], message.get("data")
    if not isinstance(stream, str) or not isinstance(data, dict):
        raise _Rejected("stream message without a stream name and data object")
    symbol, _, channel = stream.partition("@")
    if channel.startswith("depth"):
        return "depth"
    if channel not in ("trade", "bookTicker"):
        return f"stream {channel or stream}"
    return symbol, channel, data


def _shape_of(channel: str, data: dict) -> str:
    if channel == "trade":
        return "um" if "X" in data else "spot"
    return "um" if "T" in data or "E" in data else "spot"


def prescan(stream: Iterable[str]) -> RecordingShape | None:
    """Market and symbol of the first trade or bookTicker message, if any in the first lines."""
    depth_market = None
    for index, line in enumerate(stream):
        if index >= PRESCAN_LINES:
            break
        try:
            _, payload = _split(line.rstrip("\r\n"))
            parsed = _message(payload)
        except _Rejected:
            continue
        if isinstance(parsed, str):
            if parsed == "depth" and depth_market is None and '"pu"' in payload:
                depth_market = "um"
            continue
        _, channel, data = parsed
        symbol = data.get("s") if isinstance(data.get("s"), str) else None
        return RecordingShape(_shape_of(channel, data), symbol)
    return RecordingShape(depth_market, None) if depth_market else None


def _number(data: dict, key: str, name: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _Rejected(f"{name} is missing or not a number")
    try:
        number = float(value)
    except ValueError:
        raise _Rejected(f"{name} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise _Rejected(f"{name} {value!r} is not a finite number")
    return number


def _integer(data: dict, key: str, name: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Rejected(f"{name} is missing or not an integer")
    if not MIN_BIGINT <= value <= MAX_BIGINT:
        raise _Rejected(f"{name} {value} is outside the 64-bit integer range")
    return value


def _exchange_time_us(data: dict, key: str, receive_ns: int) -> int:
    millis = _integer(data, key, f"time {key}")
    micros = millis * 1000
    if abs(micros - receive_ns // 1000) > MAX_CLOCK_GAP_US:
        raise _Rejected(f"exchange time {millis} is more than an hour from the receive time")
    return micros


class RecordingParser:
    """Turns batches of recording lines into trade and quote rows for one market."""

    def __init__(self, market: str, symbol: str | None) -> None:
        self.market = market
        self.symbol = symbol

    def _symbol(self, stream_symbol: str, data: dict) -> str:
        symbol = data.get("s")
        if not isinstance(symbol, str):
            raise _Rejected("symbol s is missing")
        if symbol.lower() != stream_symbol.lower():
            raise _Rejected(f"symbol mismatch: stream {stream_symbol} carries {symbol}")
        if self.symbol is not None and symbol != self.symbol:
            raise _Rejected(f"symbol mismatch: {symbol} in a recording of {self.symbol}")
        return symbol

    def _check_shape(self, channel: str, data: dict) -> None:
        shape = _shape_of(channel, data)
        if shape != self.market:
            raise _Rejected(f"{shape}-format {channel} message in a {self.market} recording")

    def _trade(self, receive_ns: int, stream_symbol: str, data: dict) -> tuple:
        symbol = self._symbol(stream_symbol, data)
        self._check_shape("trade", data)
        trade_id = _integer(data, "t", "trade id t")
        price = _number(data, "p", "price p")
        qty = _number(data, "q", "quantity q")
        if price <= 0:
            raise _Rejected(f"price {data['p']} is not positive")
        if qty <= 0:
            raise _Rejected(f"quantity {data['q']} is not positive")
        if not math.isfinite(price * qty):
            raise _Rejected(f"price x quantity ({data['p']} x {data['q']}) is not a finite number")
        maker = data.get("m")
        if not isinstance(maker, bool):
            raise _Rejected("buyer-is-maker m is missing or not true/false")
        ts = _exchange_time_us(data, "T", receive_ns)
        return (symbol, trade_id, ts, price, qty, maker)

    def _quote(self, receive_ns: int, stream_symbol: str, data: dict) -> tuple:
        symbol = self._symbol(stream_symbol, data)
        self._check_shape("bookTicker", data)
        update_id = _integer(data, "u", "update id u")
        bid, bid_qty = _number(data, "b", "bid price b"), _number(data, "B", "bid size B")
        ask, ask_qty = _number(data, "a", "ask price a"), _number(data, "A", "ask size A")
        if bid <= 0 or ask <= 0:
            raise _Rejected("bid or ask price is not positive")
        if bid_qty < 0 or ask_qty < 0:
            raise _Rejected("bid or ask size is negative")
        ts = _exchange_time_us(data, "T", receive_ns) if self.market == "um" else receive_ns // 1000
        return (symbol, update_id, ts, bid, bid_qty, ask, ask_qty)

    def parse(self, batch: LineBatch) -> Batch:
        rows = _Rows()
        result = Batch()
        for position, (number, line) in enumerate(zip(batch.numbers.tolist(), batch.lines)):
            try:
                receive_ns, payload = _split(line)
                parsed = _fast_skip(payload) or _message(payload)
                if isinstance(parsed, str):
                    result.skipped[parsed] = result.skipped.get(parsed, 0) + 1
                    continue
                stream_symbol, channel, data = parsed
                if channel == "trade":
                    rows.trades.append(self._trade(receive_ns, stream_symbol, data))
                    rows.trade_lines.append(position)
                else:
                    rows.quotes.append(self._quote(receive_ns, stream_symbol, data))
                    rows.quote_lines.append(position)
            except _Rejected as reason:
                result.rejects.append(Reject(number, line, str(reason)))
        result.tables = {
            "raw.trades": self._trades_frame(rows.trades),
            "raw.l1_quotes": self._quotes_frame(rows.quotes),
        }
        result.origins = {
            "raw.trades": RowOrigins(batch, np.asarray(rows.trade_lines, dtype=np.int64)),
            "raw.l1_quotes": RowOrigins(batch, np.asarray(rows.quote_lines, dtype=np.int64)),
        }
        return result

    def _identity(self) -> dict[str, str]:
        return {"exchange": EXCHANGE, "market": self.market}

    def _trades_frame(self, trades: list[tuple]) -> pd.DataFrame:
        columns = ["symbol", "trade_id", "ts", "price", "qty", "is_buyer_maker"]
        frame = pd.DataFrame.from_records(trades, columns=columns)
        frame["ts"] = np.asarray(frame["ts"], dtype=np.int64).astype("datetime64[us]")
        # rint(x * 1e8) / 1e8 is the double nearest to the 8-decimal value: what float() reads from an archive
        price, qty = (frame[column].to_numpy(dtype=np.float64) for column in ("price", "qty"))
        frame["quote_qty"] = np.round(price * qty, QUOTE_DECIMALS)
        order = ["symbol", "trade_id", "ts", "price", "qty", "quote_qty", "is_buyer_maker"]
        return frame.assign(**self._identity())[["exchange", "market", *order]]

    def _quotes_frame(self, quotes: list[tuple]) -> pd.DataFrame:
        columns = ["symbol", "update_id", "ts", "bid_price", "bid_qty", "ask_price", "ask_qty"]
        frame = pd.DataFrame.from_records(quotes, columns=columns)
        frame["ts"] = np.asarray(frame["ts"], dtype=np.int64).astype("datetime64[us]")
        return frame.assign(**self._identity())[["exchange", "market", *columns]]


def iter_recording_batches(stream: TextIO, parser: RecordingParser, batch_rows: int) -> Iterator[Batch]:
    for batch in iter_line_batches(stream, batch_rows):
        yield parser.parse(batch)


def shape_of_file(path: Path, opener, market: str | None, symbol: str | None) -> RecordingShape:
    """The market to load as and the symbol to expect: given, or inferred from the first messages."""
    with opener(path) as stream:
        first = stream.readline()
        if not first:
            raise RecordingProblem(f"{path.name}: empty recording (no lines)")
        seen = prescan(itertools.chain([first], stream))
    if seen is not None and symbol is not None and seen.symbol is not None and seen.symbol != symbol:
        raise RecordingProblem(f"{path.name}: holds {seen.symbol} messages, expected {symbol}")
    if market is not None:
        return RecordingShape(market, symbol)
    if seen is None:
        raise RecordingProblem(
            f"{path.name}: no trade, bookTicker or depth message in the first {PRESCAN_LINES:,} lines; "
            "not a Binance stream recording? (pass --market to load it anyway)"
        )
    return RecordingShape(seen.market, symbol)
