"""USD-M futures archive CSVs (bookTicker, bookDepth, metrics, fundingRate) into raw-table rows plus rejects.

Published layouts (docs/ingest.md, "Layouts"): bookTicker and fundingRate carry epoch
times (ms; µs accepted, detected per value as for trades), bookDepth and metrics carry
UTC text times 'YYYY-MM-DD HH:MM:SS'. bookDepth's signed percentage is a side and a band:
negative is the bid side, positive the ask side. Rows without an exchange id (bookDepth,
metrics, fundingRate) are keyed by their time (and band): a repeat with other values is
rejected (lines.FirstVersions). The first broken rule is a line's reason.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from sniper.ingest.binance_csv import (
    ArchiveContext,
    check_period,
    check_time,
    fields,
    identity,
    micros_to_datetime,
    to_batch,
    to_micros,
)
from sniper.ingest.lines import Batch, Bound, FirstVersions, LineBatch, ReasonBuilder, as_integer, as_utc_micros

BOOK_TICKER_COLUMNS = (
    "update_id", "best_bid_price", "best_bid_qty", "best_ask_price", "best_ask_qty", "transaction_time", "event_time",
)
BOOK_DEPTH_COLUMNS = ("timestamp", "percentage", "depth", "notional")
METRICS_COLUMNS = (
    "create_time", "symbol", "sum_open_interest", "sum_open_interest_value", "count_toptrader_long_short_ratio",
    "sum_toptrader_long_short_ratio", "count_long_short_ratio", "sum_taker_long_short_vol_ratio",
)
METRICS_RATIOS = METRICS_COLUMNS[4:]
FUNDING_RATE_COLUMNS = ("calc_time", "funding_interval_hours", "last_funding_rate")

# An update's event time follows its transaction time by milliseconds; an hour apart is not one update.
MAX_EVENT_LAG_US = 3_600 * 1_000_000
# numeric(4, 2): a band is below 100 percent with at most two decimals (0.20, 1.00 ... 5.00 are published).
MAX_BAND_PCT = 100
BAND_DECIMALS_SLACK = 1e-6
# Binance settles funding every 1 to 8 hours; a day is the most an interval can be.
MAX_FUNDING_INTERVAL_HOURS = 24
# A funding rate is a fraction of the position per interval (Binance caps them at a few percent);
# 1 (100 %) or more is not a rate.
MAX_ABS_FUNDING_RATE = 1.0


def _text_time(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1_000_000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def parse_book_ticker(batch: LineBatch, context: ArchiveContext) -> Batch:
    """Best bid/ask updates into raw.l1_quotes; ts is the transaction time (as the websocket's ``T``)."""
    kept, frame, rejects = fields(batch, context)
    reasons = ReasonBuilder(len(frame))
    update_id, bad_id = as_integer(frame["update_id"])
    reasons.add(bad_id, "update_id is not an integer")
    bid = reasons.number(frame["best_bid_price"], "best_bid_price", Bound.POSITIVE)
    bid_qty = reasons.number(frame["best_bid_qty"], "best_bid_qty", Bound.NON_NEGATIVE)
    ask = reasons.number(frame["best_ask_price"], "best_ask_price", Bound.POSITIVE)
    ask_qty = reasons.number(frame["best_ask_qty"], "best_ask_qty", Bound.NON_NEGATIVE)
    raw_time, bad_time = as_integer(frame["transaction_time"])
    micros = to_micros(raw_time.to_numpy())
    check_time(reasons, micros, bad_time, context, "transaction_time")
    raw_event, bad_event = as_integer(frame["event_time"])
    reasons.add(bad_event, "event_time is not an integer timestamp")
    event = to_micros(raw_event.to_numpy())
    reasons.add(np.abs(event - micros) > MAX_EVENT_LAG_US, "event_time is more than an hour from transaction_time")
    good = ~reasons.bad
    rows = pd.DataFrame(
        {
            **identity(context),
            "update_id": update_id.to_numpy()[good],
            "ts": micros_to_datetime(micros[good]),
            "bid_price": bid[good],
            "bid_qty": bid_qty[good],
            "ask_price": ask[good],
            "ask_qty": ask_qty[good],
        }
    )
    return to_batch(context, rows, reasons, kept, rejects)


def parse_book_depth(batch: LineBatch, context: ArchiveContext, versions: FirstVersions) -> Batch:
    """Cumulative depth and notional per signed percentage band into raw.depth_bands (side, band_pct > 0)."""
    kept, frame, rejects = fields(batch, context)
    reasons = ReasonBuilder(len(frame))
    micros, bad_time = as_utc_micros(frame["timestamp"])
    reasons.add(bad_time, "timestamp is not a UTC time 'YYYY-MM-DD HH:MM:SS'")
    check_period(reasons, micros, context, "timestamp")
    percentage = reasons.number(frame["percentage"], "percentage")
    reasons.add(percentage == 0, "percentage is zero (neither bid nor ask)")
    hundredths = np.abs(percentage) * 100
    reasons.add(
        (np.abs(percentage) >= MAX_BAND_PCT) | (np.abs(hundredths - np.round(hundredths)) > BAND_DECIMALS_SLACK),
        f"percentage is not a band below {MAX_BAND_PCT} with at most 2 decimals",
    )
    depth = reasons.number(frame["depth"], "depth", Bound.NON_NEGATIVE)
    notional = reasons.number(frame["notional"], "notional", Bound.NON_NEGATIVE)
    band = np.round(np.abs(percentage), 2)
    side = np.where(percentage < 0, "bid", "ask")
    versions.check(
        reasons,
        [micros, percentage],
        {"depth": depth, "notional": notional},
        lambda i: f"timestamp {_text_time(int(micros[i]))} percentage {percentage[i]:g}",
    )
    good = ~reasons.bad
    rows = pd.DataFrame(
        {
            **identity(context),
            "ts": micros_to_datetime(micros[good]),
            "side": side[good],
            "band_pct": band[good],
            "depth": depth[good],
            "notional": notional[good],
        }
    )
    return to_batch(context, rows, reasons, kept, rejects)


def parse_metrics(batch: LineBatch, context: ArchiveContext, versions: FirstVersions) -> Batch:
    """5-minute open interest and long/short ratios into raw.futures_metrics; an empty ratio is NULL."""
    kept, frame, rejects = fields(batch, context)
    reasons = ReasonBuilder(len(frame))
    micros, bad_time = as_utc_micros(frame["create_time"])
    reasons.add(bad_time, "create_time is not a UTC time 'YYYY-MM-DD HH:MM:SS'")
    check_period(reasons, micros, context, "create_time")
    reasons.add(frame["symbol"].astype(str).str.strip().to_numpy() != context.symbol, f"symbol is not {context.symbol}")
    values = {
        name: reasons.number(frame[name], name, Bound.NON_NEGATIVE)
        for name in ("sum_open_interest", "sum_open_interest_value")
    }
    values |= {name: reasons.number(frame[name], name, Bound.NON_NEGATIVE, optional=True) for name in METRICS_RATIOS}
    versions.check(reasons, [micros], values, lambda i: f"create_time {_text_time(int(micros[i]))}")
    good = ~reasons.bad
    rows = pd.DataFrame(
        {
            **identity(context),
            "ts": micros_to_datetime(micros[good]),
            **{name: column[good] for name, column in values.items()},
        }
    )
    return to_batch(context, rows, reasons, kept, rejects)


def parse_funding_rates(batch: LineBatch, context: ArchiveContext, versions: FirstVersions) -> Batch:
    """Settled funding rates of one month into raw.funding_rates; ts is calc_time."""
    kept, frame, rejects = fields(batch, context)
    reasons = ReasonBuilder(len(frame))
    raw_time, bad_time = as_integer(frame["calc_time"])
    micros = to_micros(raw_time.to_numpy())
    check_time(reasons, micros, bad_time, context, "calc_time")
    hours, bad_hours = as_integer(frame["funding_interval_hours"])
    hours = hours.to_numpy()
    reasons.add(bad_hours, "funding_interval_hours is not an integer")
    reasons.add(
        (hours < 1) | (hours > MAX_FUNDING_INTERVAL_HOURS),
        f"funding_interval_hours is not between 1 and {MAX_FUNDING_INTERVAL_HOURS}",
    )
    rate = reasons.number(frame["last_funding_rate"], "last_funding_rate")
    reasons.add(np.abs(rate) >= MAX_ABS_FUNDING_RATE, "last_funding_rate is not between -1 and 1")
    versions.check(
        reasons,
        [micros],
        {"funding_interval_hours": hours, "last_funding_rate": rate},
        lambda i: f"calc_time {int(raw_time.iat[i])}",
    )
    good = ~reasons.bad
    rows = pd.DataFrame(
        {
            **identity(context),
            "ts": micros_to_datetime(micros[good]),
            "funding_interval_hours": hours[good],
            "funding_rate": rate[good],
        }
    )
    return to_batch(context, rows, reasons, kept, rejects)
