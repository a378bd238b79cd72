"""Tardis.dev ``options_chain`` CSV files (Deribit options) into raw.options_chain rows.

Layout (one row per option ticker update, header line first, timestamps in microseconds
since epoch, UTC): exchange, symbol, timestamp, local_timestamp, type, strike_price,
expiration, open_interest, last_price, bid_price, bid_amount, bid_iv, ask_price,
ask_amount, ask_iv, mark_price, mark_iv, underlying_index, underlying_price, delta,
gamma, vega, theta, rho. Deribit conventions are kept as published: mark_price in
units of the underlying coin, IVs in percent, vega per 1 vol point.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TextIO

import pandas as pd

from sniper.ingest.binance_csv import day_bounds_us, micros_to_datetime
from sniper.ingest.lines import (
    Batch,
    Bound,
    LineBatch,
    ReasonBuilder,
    as_integer,
    iter_line_batches,
    read_fields,
    split_by_field_count,
)

COLUMNS = [
    "exchange", "symbol", "timestamp", "local_timestamp", "type", "strike_price", "expiration",
    "open_interest", "last_price", "bid_price", "bid_amount", "bid_iv", "ask_price", "ask_amount",
    "ask_iv", "mark_price", "mark_iv", "underlying_index", "underlying_price", "delta", "gamma",
    "vega", "theta", "rho",
]
# Nullable in raw.options_chain: empty means unknown; text that is not a finite number in
# range is rejected. The Greeks are only required finite (a premium-adjusted delta of an
# inverse, coin-settled put goes below -1).
OPTIONAL_NUMBERS = {
    "mark_price": Bound.NON_NEGATIVE, "mark_iv": Bound.NON_NEGATIVE, "delta": Bound.ANY, "gamma": Bound.ANY,
    "vega": Bound.ANY,
}
# Tardis names its daily files <exchange>_options_chain_<YYYY-MM-DD>_<symbol>.csv.gz.
DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
# Epoch microseconds between 2010-01-01 and 2100-01-01.
MIN_US, MAX_US = 1_262_304_000 * 10**6, 4_102_444_800 * 10**6
TABLE = "raw.options_chain"


class OptionsProblem(Exception):
    """The file is not a Tardis options_chain CSV at all."""


def day_of_file(path: Path) -> date | None:
    """The UTC day a Tardis daily file covers, from its name (None when the name has no date)."""
    match = DATE_IN_NAME.search(path.name)
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def underlying_of(instrument: pd.Series) -> pd.Series:
    """BTC for BTC-28JUN24-60000-C and for BTC_USDC-28JUN24-60000-C (linear USDC options)."""
    return instrument.str.split("-", n=1).str[0].str.split("_", n=1).str[0]


def iter_options_batches(stream: TextIO, day: date | None, batch_rows: int) -> Iterator[Batch]:
    header = stream.readline().lstrip("\ufeff").rstrip("\r\n")
    if not header.strip():
        raise OptionsProblem("empty file: no header line")
    if header.split(",") != COLUMNS:
        raise OptionsProblem(f"not a Tardis options_chain CSV: header starts {header[:80]!r}")
    for batch in iter_line_batches(stream, batch_rows, first_number=2):
        yield parse_options(batch, day)


def parse_options(batch: LineBatch, day: date | None) -> Batch:
    kept, rejects = split_by_field_count(batch, len(COLUMNS))
    frame = read_fields(kept, COLUMNS)
    reasons = ReasonBuilder(len(frame))
    exchange = frame["exchange"].astype(str).str.strip()
    instrument = frame["symbol"].astype(str).str.strip()
    option_type = frame["type"].astype(str).str.strip().str.lower()
    ts_us, bad_ts = as_integer(frame["timestamp"])
    expiry_us, bad_expiry = as_integer(frame["expiration"])
    reasons.add(frame["exchange"].isna() | (exchange == ""), "exchange is empty")
    reasons.add(frame["symbol"].isna() | ~instrument.str.contains("-", regex=False), "symbol is not an option name")
    reasons.add(~option_type.isin(["call", "put"]), "type is not call or put")
    reasons.add(bad_ts, "timestamp is not an integer")
    reasons.add((ts_us < MIN_US) | (ts_us >= MAX_US), "timestamp is not epoch microseconds")
    if day is not None:
        start, end = day_bounds_us(day)
        reasons.add((ts_us < start) | (ts_us >= end), f"timestamp is outside {day.isoformat()} UTC")
    reasons.add(bad_expiry | (expiry_us < MIN_US) | (expiry_us >= MAX_US), "expiration is not epoch microseconds")
    strike = reasons.number(frame["strike_price"], "strike_price", Bound.POSITIVE)
    open_interest = reasons.number(frame["open_interest"], "open_interest", Bound.NON_NEGATIVE)
    underlying_price = reasons.number(frame["underlying_price"], "underlying_price", Bound.POSITIVE)
    optional = {
        column: reasons.number(frame[column], column, bound, optional=True)
        for column, bound in OPTIONAL_NUMBERS.items()
    }

    good = ~reasons.bad
    rows = pd.DataFrame(
        {
            "exchange": exchange.to_numpy()[good],
            "underlying": underlying_of(instrument).to_numpy()[good],
            "instrument": instrument.to_numpy()[good],
            "ts": micros_to_datetime(ts_us.to_numpy()[good]),
            "expiry_at": micros_to_datetime(expiry_us.to_numpy()[good]),
            "strike": strike[good],
            "option_type": option_type.to_numpy()[good],
            "open_interest": open_interest[good],
            **{column: values[good] for column, values in optional.items()},
            "underlying_price": underlying_price[good],
        }
    )
    return Batch(tables={TABLE: rows}, rejects=rejects + reasons.rejects(kept), origins={TABLE: reasons.origins(kept)})

