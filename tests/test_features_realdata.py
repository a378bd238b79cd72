"""The real Binance spot captures (tests/data/realdata/binance-websocket, two files per
symbol spanning midnight UTC): loaded with the recording loader, the features are built
for every 5-minute bucket, and OFI, OBI and the taker/whale flow agree with values
computed here straight from the gzip files.

The independent computation parses the raw lines itself: bookTicker updates (spot ones carry
no exchange time, so the local receive time, as the loader stores it) in (time, update id)
order give e_n of Cont, Kukanov and Stoikov; e_n is summed per minute, the minutes per
5-minute bucket. Trades group by (trade time, side) into taker orders for the whale rule.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sniper.ingest.config import FileRequest
from sniper.ingest.local import ingest_recordings
from sniper.warehouse import invoke_dbt
from tests.conftest import REALDATA

CAPTURES = sorted((REALDATA / "binance-websocket").glob("spot_*.gz"))
WHALE_MIN_NOTIONAL = 100_000


def _parse(paths: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    quotes, trades = [], []
    for path in paths:
        with gzip.open(path, "rt") as handle:
            for line in handle:
                receive_ns, payload = line.split(" ", 1)
                if '"stream"' not in payload[:12]:
                    continue
                message = json.loads(payload)
                channel, data = message["stream"].split("@")[1], message["data"]
                if channel == "bookTicker":
                    quotes.append((data["s"], data["u"], int(receive_ns) // 1000, float(data["b"]),
                                   float(data["B"]), float(data["a"]), float(data["A"])))
                elif channel == "trade":
                    trades.append((data["s"], data["t"], data["T"] * 1000, float(data["p"]), float(data["q"]),
                                   data["m"]))
    quotes = pd.DataFrame(quotes, columns=["symbol", "update_id", "ts_us", "pb", "qb", "pa", "qa"])
    trades = pd.DataFrame(trades, columns=["symbol", "trade_id", "ts_us", "price", "qty", "is_buyer_maker"])
    for frame in (quotes, trades):
        frame["bucket_start_at"] = pd.to_datetime(frame["ts_us"] // 300_000_000 * 300_000_000, unit="us", utc=True)
        frame["minute_at"] = pd.to_datetime(frame["ts_us"] // 60_000_000 * 60_000_000, unit="us", utc=True)
    return quotes, trades


def _ofi_per_minute(quotes: pd.DataFrame) -> pd.DataFrame:
    frames = []
    for _, book in quotes.groupby("symbol"):
        book = book.sort_values(["ts_us", "update_id"]).reset_index(drop=True)
        prev = book[["pb", "qb", "pa", "qa"]].shift(1)
        e = (
            np.where(book["pb"] >= prev["pb"], book["qb"], 0) - np.where(book["pb"] <= prev["pb"], prev["qb"], 0)
            - np.where(book["pa"] <= prev["pa"], book["qa"], 0) + np.where(book["pa"] >= prev["pa"], prev["qa"], 0)
        )
        e[0] = np.nan  # the very first update of the capture has no predecessor
        frames.append(book.assign(e=e, obi=(book["qb"] - book["qa"]) / (book["qb"] + book["qa"])))
    return pd.concat(frames)


@pytest.fixture(scope="module")
def real(module_database):
    with module_database.connect(autocommit=True) as conn:
        outcomes = ingest_recordings(conn, FileRequest(files=CAPTURES))
    assert [o.status for o in outcomes] == ["loaded"] * len(CAPTURES)
    # No window_start: each symbol's first window, from the day of its first candle.
    result = invoke_dbt(["run", "--select", "+features_5m"], {"window_days": 2})
    assert result.success
    features = module_database.frame("select * from features.features_5m order by symbol, bucket_start_at")
    quotes, trades = _parse(CAPTURES)
    return features, _ofi_per_minute(quotes), trades


def test_every_five_minute_bucket_of_the_captures_has_features(real):
    features, quotes, trades = real
    spanned = pd.concat([quotes[["symbol", "bucket_start_at"]], trades[["symbol", "bucket_start_at"]]])
    expected = spanned.drop_duplicates().sort_values(["symbol", "bucket_start_at"]).reset_index(drop=True)
    assert len(expected) == 8  # 23:50, 23:55, 00:00, 00:05 for BTCUSDT and ETHUSDT
    got = features[["symbol", "bucket_start_at"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    for column in ("volume_delta", "cvd_day", "whale_cvd_day", "ofi", "ofi_normalized", "obi_l1_twap",
                   "obi_l1_close", "iceberg_bid_count"):
        assert features[column].notna().all(), column
    # No depth bands and no options chains in these captures: null, not zero.
    for column in ("obi_depth_1pct", "gamma_exposure", "zero_gamma_distance"):
        assert features[column].isna().all(), column
    # The captures start at 23:54:14 (46 s of the 23:50 bucket: 0.15) and their last quote
    # is at 00:05:04.5, trusted for 60 s more (64.5 s of the 00:05 bucket: 0.215).
    edges = features.groupby("symbol")["l1_coverage"].agg(["first", "last"])
    assert ((edges["first"] > 0.14) & (edges["first"] < 0.16)).all()
    assert ((edges["last"] > 0.21) & (edges["last"] < 0.22)).all()
    assert (features.groupby("symbol")["l1_coverage"].apply(lambda c: c.iloc[1:-1]) == 1.0).all()


def test_ofi_from_one_minute_sums_agrees_with_the_models(real):
    features, quotes, _ = real
    per_minute = quotes.groupby(["symbol", "minute_at", "bucket_start_at"], as_index=False).agg(
        ofi=("e", lambda e: e.sum(min_count=1)), updates=("e", "size"))
    per_bucket = per_minute.groupby(["symbol", "bucket_start_at"], as_index=False).agg(
        ofi_expected=("ofi", "sum"), updates=("updates", "sum"))
    closes = quotes.sort_values(["ts_us", "update_id"]).groupby(["symbol", "bucket_start_at"], as_index=False).agg(
        obi_close=("obi", "last"))
    merged = features.merge(per_bucket, on=["symbol", "bucket_start_at"]).merge(closes, on=["symbol", "bucket_start_at"])
    assert len(merged) == len(features)
    assert (merged["l1_update_count"] == merged["updates"]).all()
    assert np.allclose(merged["ofi"], merged["ofi_expected"], rtol=1e-9, atol=1e-9)
    assert np.allclose(merged["obi_l1_close"], merged["obi_close"], rtol=1e-12, atol=1e-12)


def test_taker_and_whale_flow_agree_with_the_raw_trades(real):
    features, _, trades = real
    trades = trades.assign(notional=trades["price"] * trades["qty"],
                           signed=np.where(trades["is_buyer_maker"], -trades["qty"], trades["qty"]))
    orders = trades.groupby(["symbol", "ts_us", "is_buyer_maker", "bucket_start_at"], as_index=False).agg(
        signed=("signed", "sum"), notional=("notional", "sum"))
    orders["whale_signed"] = np.where(orders["notional"] >= WHALE_MIN_NOTIONAL, orders["signed"], 0.0)
    orders["is_whale"] = orders["notional"] >= WHALE_MIN_NOTIONAL
    per_bucket = orders.groupby(["symbol", "bucket_start_at"], as_index=False).agg(
        delta=("signed", "sum"), whale_delta=("whale_signed", "sum"), whales=("is_whale", "sum"))
    merged = features.merge(per_bucket, on=["symbol", "bucket_start_at"])
    assert len(merged) == len(features)
    assert np.allclose(merged["volume_delta"], merged["delta"], rtol=1e-9, atol=1e-9)
    assert np.allclose(merged["whale_volume_delta"], merged["whale_delta"], rtol=1e-9, atol=1e-9)
    assert (merged["whale_order_count"] == merged["whales"]).all()
    assert merged["whales"].sum() > 0
    # The UTC day's CVD restarts at midnight, between the two files of each symbol.
    day_two = merged[merged["bucket_start_at"] >= pd.Timestamp("2024-08-09", tz="UTC")]
    first_of_day = day_two.groupby("symbol").head(1)
    assert np.allclose(first_of_day["cvd_day"], first_of_day["delta"], rtol=1e-9, atol=1e-9)
