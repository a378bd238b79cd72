"""An independent pandas computation of the candles, and the checks of it on hand-made trades.

The candle tests compare what dbt materialized with `reference_candles`, computed here
from the raw trades and the load ledger: no SQL of the models is reused. The rules it
encodes are the documented ones (docs/candles.md):

- a bucket is [start, start + timeframe) in UTC; weeks start Monday, months on the 1st;
- open/close: first/last trade by (time, trade id); volume = sum of qty; vwap = quote / volume;
- a 5m bucket exists when it has trades or lies in loaded (covered) time; an empty one
  carries the last trade price before it;
- a longer bucket exists when any of its 5m buckets does; it is complete when its whole
  span lies in covered time that has been materialized; empty when it has no trade.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import psycopg

TIMEFRAMES = ["5m", "15m", "1h", "4h", "1d", "1w", "1mo"]
FIXED = {"5m": "5min", "15m": "15min", "1h": "1h", "4h": "4h", "1d": "1D"}
FLOAT_COLUMNS = ["open", "high", "low", "close", "volume", "quote_volume", "taker_buy_volume", "taker_sell_volume", "vwap"]
CANDLE_COLUMNS = [
    "symbol", "bucket_start_at", "open", "high", "low", "close", "volume", "quote_volume", "trade_count",
    "taker_buy_volume", "taker_sell_volume", "vwap", "first_trade_id", "last_trade_id", "is_complete", "is_empty",
]  # fmt: skip


def bucket_start(times: pd.Series, timeframe: str) -> pd.Series:
    """UTC bucket start of each timestamp."""
    if timeframe in FIXED:
        return times.dt.floor(FIXED[timeframe])
    day = times.dt.floor("1D")
    if timeframe == "1w":
        return day - pd.to_timedelta(day.dt.weekday, unit="D")
    naive = day.dt.tz_localize(None)
    return (naive - pd.to_timedelta(naive.dt.day - 1, unit="D")).dt.tz_localize("UTC")


def bucket_end(starts: pd.Series, timeframe: str) -> pd.Series:
    if timeframe in FIXED:
        return starts + pd.Timedelta(FIXED[timeframe])
    if timeframe == "1w":
        return starts + pd.Timedelta(days=7)
    return starts + pd.offsets.MonthBegin(1)


@dataclass(frozen=True)
class Span:
    """Materialized time of one symbol: [start, end)."""

    start: pd.Timestamp
    end: pd.Timestamp


def is_covered(starts: pd.Series, ends: pd.Series, covered_days: set[pd.Timestamp], span: Span) -> np.ndarray:
    """True where the whole [start, end) is inside the span and every UTC day of it is covered."""
    if starts.empty:
        return np.zeros(0, dtype=bool)
    first_day = min(starts.min().floor("1D"), *covered_days) if covered_days else starts.min().floor("1D")
    last_day = (ends.max() - pd.Timedelta(microseconds=1)).floor("1D")
    days = pd.date_range(first_day, last_day, freq="1D")
    covered_so_far = np.concatenate([[0], np.cumsum(days.isin(list(covered_days)))])
    first = ((starts.dt.floor("1D") - first_day) // pd.Timedelta(days=1)).to_numpy()
    last = (((ends - pd.Timedelta(microseconds=1)).dt.floor("1D") - first_day) // pd.Timedelta(days=1)).to_numpy()
    all_covered = covered_so_far[last + 1] - covered_so_far[first] == last - first + 1
    inside = (starts >= span.start).to_numpy() & (ends <= span.end).to_numpy()
    return inside & all_covered


def reference_candles(
    trades: pd.DataFrame, covered_days: set[pd.Timestamp], span: Span, timeframe: str
) -> pd.DataFrame:
    """Candles of ONE symbol's trades for `timeframe`, as materialized over `span`.

    trades: columns trade_id, ts (UTC), price, qty, quote_qty, is_buyer_maker (all of the
    symbol's trades: an empty bucket carries the last price before it, from any time).
    covered_days: UTC midnights of loaded days.
    """
    trades = trades.sort_values(["ts", "trade_id"], kind="stable").reset_index(drop=True)
    inside = trades[(trades.ts >= span.start) & (trades.ts < span.end)].copy()
    inside["bucket_start_at"] = bucket_start(inside.ts, timeframe)
    inside["buy_qty"] = np.where(inside.is_buyer_maker, 0.0, inside.qty)
    inside["sell_qty"] = np.where(inside.is_buyer_maker, inside.qty, 0.0)
    grouped = inside.groupby("bucket_start_at", sort=True)
    traded = pd.DataFrame(
        {
            "open": grouped.price.first(),
            "high": grouped.price.max(),
            "low": grouped.price.min(),
            "close": grouped.price.last(),
            "volume": grouped.qty.sum(),
            "quote_volume": grouped.quote_qty.sum(),
            "trade_count": grouped.size(),
            "taker_buy_volume": grouped.buy_qty.sum(),
            "taker_sell_volume": grouped.sell_qty.sum(),
            "first_trade_id": grouped.trade_id.first(),
            "last_trade_id": grouped.trade_id.last(),
        }
    )

    # Buckets that exist without trades: any 5m bucket of covered time inside the span.
    covered_5m = [
        stamp
        for day in sorted(covered_days)
        if span.start <= day < span.end
        for stamp in pd.date_range(day, day + pd.Timedelta(days=1), freq="5min", inclusive="left")
        if stamp < span.end
    ]
    existing = pd.Series(pd.DatetimeIndex(covered_5m, tz="UTC") if covered_5m else pd.DatetimeIndex([], tz="UTC"))
    starts = pd.Index(bucket_start(existing, timeframe).unique()).union(traded.index)
    candles = traded.reindex(starts)
    candles.index.name = "bucket_start_at"
    candles = candles.reset_index()

    empty = candles.trade_count.isna()
    prior = np.searchsorted(trades.ts.to_numpy(), candles.bucket_start_at.to_numpy(), side="left") - 1
    carried = np.where(prior >= 0, trades.price.to_numpy()[np.maximum(prior, 0)], np.nan)
    for column in ("open", "high", "low", "close"):
        candles[column] = np.where(empty, carried, candles[column])
    for column in ("volume", "quote_volume", "taker_buy_volume", "taker_sell_volume", "trade_count"):
        candles[column] = candles[column].fillna(0)
    candles["trade_count"] = candles.trade_count.astype("int64")
    candles["vwap"] = np.where(empty, np.nan, candles.quote_volume / candles.volume.where(~empty, 1.0))
    candles["first_trade_id"] = candles.first_trade_id.astype("Int64")
    candles["last_trade_id"] = candles.last_trade_id.astype("Int64")
    candles["is_empty"] = empty.to_numpy()
    ends = bucket_end(candles.bucket_start_at, timeframe)
    candles["is_complete"] = is_covered(candles.bucket_start_at, ends, covered_days, span)
    return candles


def read_trades(conn: psycopg.Connection, symbol: str) -> pd.DataFrame:
    rows = conn.execute(
        "select trade_id, ts, price, qty, quote_qty, is_buyer_maker from raw.trades"
        " where symbol = %s and market = 'spot' order by ts, trade_id",
        (symbol,),
    ).fetchall()
    frame = pd.DataFrame(rows, columns=["trade_id", "ts", "price", "qty", "quote_qty", "is_buyer_maker"])
    frame["ts"] = pd.to_datetime(frame.ts, utc=True)
    return frame


def read_covered_days(conn: psycopg.Connection, symbol: str) -> set[pd.Timestamp]:
    """Loaded UTC days of the synthetic market: one ledger row per symbol-day."""
    rows = conn.execute(
        "select first_ts from raw.load_ledger where symbol = %s and data_kind = 'ticks'", (symbol,)
    ).fetchall()
    return {pd.Timestamp(first).tz_convert("UTC").floor("1D") for (first,) in rows}


def read_candles(conn: psycopg.Connection, timeframe: str, symbol: str | None = None) -> pd.DataFrame:
    query = f"select {', '.join(CANDLE_COLUMNS)} from candles.candles_{timeframe}"
    params: tuple = ()
    if symbol is not None:
        query += " where symbol = %s"
        params = (symbol,)
    rows = conn.execute(query + " order by symbol, bucket_start_at", params).fetchall()
    frame = pd.DataFrame(rows, columns=CANDLE_COLUMNS)
    frame["bucket_start_at"] = pd.to_datetime(frame.bucket_start_at, utc=True)
    return frame


def assert_candles_equal(actual: pd.DataFrame, expected: pd.DataFrame, label: str, rtol: float = 1e-9) -> None:
    """Same buckets; floats within rtol (sums in another order), everything else exactly."""
    actual = actual.sort_values("bucket_start_at").reset_index(drop=True)
    expected = expected.sort_values("bucket_start_at").reset_index(drop=True)
    missing = set(expected.bucket_start_at) - set(actual.bucket_start_at)
    extra = set(actual.bucket_start_at) - set(expected.bucket_start_at)
    assert not missing and not extra, f"{label}: missing {sorted(missing)[:3]}, extra {sorted(extra)[:3]}"
    for column in FLOAT_COLUMNS:
        a = actual[column].astype(float).to_numpy()
        e = expected[column].astype(float).to_numpy()
        bad = ~np.isclose(a, e, rtol=rtol, atol=1e-12, equal_nan=True)
        assert not bad.any(), f"{label} {column}: {actual.bucket_start_at[bad].iloc[0]} {a[bad][0]} != {e[bad][0]}"
    for column in ("trade_count", "first_trade_id", "last_trade_id", "is_complete", "is_empty"):
        a = actual[column].astype("object").where(actual[column].notna(), None).tolist()
        e = expected[column].astype("object").where(expected[column].notna(), None).tolist()
        diffs = [(t, x, y) for t, x, y in zip(actual.bucket_start_at, a, e) if x != y]
        assert not diffs, f"{label} {column}: first difference {diffs[0]}"


# -- the reference itself, on trades small enough to check by hand ---------------------------

UTC = timezone.utc


def _trades(*rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["trade_id", "ts", "price", "qty", "quote_qty", "is_buyer_maker"])
    frame["ts"] = pd.to_datetime(frame.ts, utc=True)
    return frame


def test_reference_orders_ties_by_trade_id_and_carries_empty_buckets():
    trades = _trades(
        (1, "2024-06-02 23:59:00", 90.0, 1.0, 90.0, False),
        (3, "2024-06-03 00:01:00", 101.0, 1.0, 101.0, True),
        (2, "2024-06-03 00:01:00", 100.0, 2.0, 200.0, False),
        (4, "2024-06-03 00:11:00", 102.0, 1.0, 102.0, False),
    )
    day = pd.Timestamp("2024-06-03", tz="UTC")
    span = Span(day, day + pd.Timedelta(days=1))
    candles = reference_candles(trades, {day}, span, "5m").set_index("bucket_start_at")
    assert len(candles) == 288
    first = candles.loc[day]
    assert (first.open, first.close, first.first_trade_id, first.last_trade_id) == (100.0, 101.0, 2, 3)
    assert (first.volume, first.taker_buy_volume, first.taker_sell_volume, first.trade_count) == (3.0, 2.0, 1.0, 2)
    empty = candles.loc[day + pd.Timedelta(minutes=5)]
    assert empty.is_empty and empty.is_complete and (empty.open, empty.close, empty.volume) == (101.0, 101.0, 0.0)
    assert candles.loc[day + pd.Timedelta(minutes=15)].open == 102.0


def test_reference_rollup_is_complete_only_inside_covered_materialized_time():
    trades = _trades((1, "2024-07-31 12:00:00", 100.0, 1.0, 100.0, False), (2, "2024-08-01 12:00:00", 110.0, 1.0, 110.0, True))
    days = {pd.Timestamp(f"2024-07-{d:02d}", tz="UTC") for d in range(29, 32)} | {
        pd.Timestamp(f"2024-08-{d:02d}", tz="UTC") for d in range(1, 5)
    }
    span = Span(pd.Timestamp("2024-07-29", tz="UTC"), pd.Timestamp("2024-08-05", tz="UTC"))
    weeks = reference_candles(trades, days, span, "1w")
    assert weeks.bucket_start_at.tolist() == [pd.Timestamp("2024-07-29", tz="UTC")]
    assert weeks.is_complete.tolist() == [True] and (weeks.open[0], weeks.close[0]) == (100.0, 110.0)
    months = reference_candles(trades, days, span, "1mo")
    assert months.bucket_start_at.dt.month.tolist() == [7, 8]
    assert months.is_complete.tolist() == [False, False]
    shorter = reference_candles(trades, days, Span(span.start, pd.Timestamp("2024-08-02", tz="UTC")), "1w")
    assert shorter.is_complete.tolist() == [False]
    assert datetime(2024, 7, 29, tzinfo=UTC) == weeks.bucket_start_at[0].to_pydatetime()
