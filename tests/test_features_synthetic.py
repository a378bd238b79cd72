"""A week of the default synthetic market (planted signal on): every feature column is
produced, and each feature agrees with an independent computation from the raw rows
(pandas/numpy here, following docs/features.md, never the models' SQL or output).
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from sniper.warehouse import invoke_dbt

CONFIG = SynthConfig(symbols=["BTCUSDT", "ETHUSDT"], start=date(2024, 6, 3), months=1, days=7, trades_per_day=3_000)
WINDOW = {"window_start": "2024-06-03", "window_days": 7}
BUCKET = pd.Timedelta(minutes=5)
WHALE_MIN_NOTIONAL = 100_000
ROLLING_BUCKETS = 12
MAX_QUOTE_AGE = pd.Timedelta(seconds=60)
# The training command's groups (docs/features.md).
FEATURE_GROUPS = {
    "ofi": ["ofi", "ofi_normalized", "l1_avg_depth", "l1_update_count", "l1_coverage"],
    "obi": ["obi_l1_twap", "obi_l1_close", "obi_depth_1pct", "obi_depth_2pct", "obi_depth_3pct",
            "obi_depth_4pct", "obi_depth_5pct", "l1_coverage"],
    "cvd": ["taker_buy_volume", "taker_sell_volume", "volume_delta", "cvd_day", "cvd_rolling"],
    "whale_cvd": ["whale_order_count", "whale_buy_volume", "whale_sell_volume", "whale_volume_delta",
                  "whale_cvd_day", "whale_cvd_rolling"],
    "gamma_exposure": ["gamma_exposure", "max_abs_gamma_strike_distance", "zero_gamma_distance"],
    "icebergs": ["iceberg_bid_count", "iceberg_ask_count", "iceberg_bid_hidden_volume", "iceberg_ask_hidden_volume"],
}


@pytest.fixture(scope="module")
def week(module_database):
    with module_database.connect(autocommit=True) as conn:
        generate(conn, CONFIG)
    result = invoke_dbt(["run", "--select", "+features_15m", "+features_1h", "+iceberg_events"], WINDOW)
    assert result.success, [f"{r.node.name}: {r.message}" for r in result.result or [] if r.status != "success"]
    features = module_database.frame("select * from features.features_5m order by symbol, bucket_start_at")
    return module_database, features


def test_every_feature_column_is_produced(week):
    db, features = week
    assert len(features) == 2 * 7 * 288
    for group, columns in FEATURE_GROUPS.items():
        for column in columns:
            assert features[column].notna().mean() > 0.95, (group, column)
    assert features["whale_order_count"].sum() > 0
    assert features["iceberg_bid_count"].sum() + features["iceberg_ask_count"].sum() > 0
    assert db.scalar("select count(*) from features.iceberg_events") > 0
    assert db.scalar("select count(*) from features.features_15m") == 2 * 7 * 96
    assert db.scalar("select count(*) from features.features_1h") == 2 * 7 * 24


def _merge(features: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    merged = features.merge(expected, on=["symbol", "bucket_start_at"], how="outer", suffixes=("", "_expected"))
    assert merged["bucket_start_at"].notna().all()
    return merged


def _assert_close(merged: pd.DataFrame, column: str, rtol: float = 1e-9, atol: float = 1e-9) -> None:
    actual, expected = merged[column].astype(float), merged[f"{column}_expected"].astype(float)
    both_null = actual.isna() & expected.isna()
    close = np.isclose(actual, expected, rtol=rtol, atol=atol)
    bad = merged[~(both_null | close)]
    assert bad.empty, bad[["symbol", "bucket_start_at", column, f"{column}_expected"]].head()


def test_taker_and_whale_flow_match_pandas(week):
    db, features = week
    trades = db.frame("select symbol, ts, qty, quote_qty, is_buyer_maker from raw.trades where market = 'spot'")
    orders = trades.groupby(["symbol", "ts", "is_buyer_maker"], as_index=False)[["qty", "quote_qty"]].sum()
    orders["bucket_start_at"] = orders["ts"].dt.floor("5min")
    orders["signed"] = np.where(orders["is_buyer_maker"], -orders["qty"], orders["qty"])
    orders["whale_signed"] = np.where(orders["quote_qty"] >= WHALE_MIN_NOTIONAL, orders["signed"], 0.0)
    per_bucket = orders.groupby(["symbol", "bucket_start_at"]).agg(
        volume_delta=("signed", "sum"), whale_volume_delta=("whale_signed", "sum"),
        whale_order_count=("quote_qty", lambda q: int((q >= WHALE_MIN_NOTIONAL).sum())),
    ).reset_index()
    day = per_bucket["bucket_start_at"].dt.floor("1D")
    for column in ("volume_delta", "whale_volume_delta"):
        prefix = "cvd" if column == "volume_delta" else "whale_cvd"
        per_bucket[f"{prefix}_day"] = per_bucket.groupby([per_bucket["symbol"], day])[column].cumsum()
        rolling = []
        for _, rows in per_bucket.groupby("symbol"):
            series = rows.set_index("bucket_start_at")[column]
            rolling.append(series.rolling(f"{ROLLING_BUCKETS * 5}min").sum().to_numpy())
        per_bucket[f"{prefix}_rolling"] = np.concatenate(rolling)
    merged = _merge(features, per_bucket)
    for column in ("volume_delta", "cvd_day", "cvd_rolling", "whale_volume_delta", "whale_cvd_day",
                   "whale_cvd_rolling", "whale_order_count"):
        _assert_close(merged, column, rtol=1e-9, atol=1e-7)


def _l1_expected(quotes: pd.DataFrame) -> pd.DataFrame:
    """OFI (CKS e_n), OBI at close, time-weighted OBI and coverage, walking the updates in order."""
    rows = []
    for symbol, book in quotes.groupby("symbol"):
        book = book.sort_values(["ts", "update_id"]).reset_index(drop=True)
        pb, qb, pa, qa = (book[c].to_numpy() for c in ("bid_price", "bid_qty", "ask_price", "ask_qty"))
        e = np.full(len(book), np.nan)
        e[1:] = (
            np.where(pb[1:] >= pb[:-1], qb[1:], 0) - np.where(pb[1:] <= pb[:-1], qb[:-1], 0)
            - np.where(pa[1:] <= pa[:-1], qa[1:], 0) + np.where(pa[1:] >= pa[:-1], qa[:-1], 0)
        )
        obi = (qb - qa) / (qb + qa)
        # Times in integer microseconds; each state holds until the next update, at most 60 s.
        ts = book["ts"].astype("int64").to_numpy() // 1000 if book["ts"].dt.unit == "ns" else \
            book["ts"].astype("int64").to_numpy()
        age_us, bucket_us = int(MAX_QUOTE_AGE.total_seconds() * 1e6), int(BUCKET.total_seconds() * 1e6)
        valid_until = np.minimum(np.append(ts[1:], ts[-1] + age_us), ts + age_us)
        covered: dict[int, list[float]] = {}
        for start, end, value in zip(ts, valid_until, obi):
            # Split each state's validity at bucket boundaries.
            cursor, bucket = int(start), int(start) // bucket_us * bucket_us
            while cursor < end:
                stop = min(int(end), bucket + bucket_us)
                acc = covered.setdefault(bucket, [0.0, 0.0])
                acc[0] += (stop - cursor) / 1e6
                acc[1] += (stop - cursor) / 1e6 * value
                cursor, bucket = stop, bucket + bucket_us
        frame = pd.DataFrame({"bucket_start_at": book["ts"].dt.floor("5min"), "e": e, "obi": obi,
                              "depth": (qb + qa) / 2})
        grouped = frame.groupby("bucket_start_at").agg(
            ofi=("e", lambda s: s.sum(min_count=1)), obi_l1_close=("obi", "last"),
            l1_update_count=("e", "size"), l1_avg_depth=("depth", "mean"),
        ).reset_index()
        for _, row in grouped.iterrows():
            bucket_key = int(row["bucket_start_at"].value // 1000)  # ns -> us
            seconds, weighted = covered.get(bucket_key, [0.0, 0.0])
            rows.append({
                "symbol": symbol, "bucket_start_at": row["bucket_start_at"], "ofi": row["ofi"],
                "ofi_normalized": row["ofi"] / row["l1_avg_depth"], "obi_l1_close": row["obi_l1_close"],
                "l1_update_count": row["l1_update_count"], "l1_coverage": seconds / 300,
                "obi_l1_twap": weighted / seconds,
            })
    return pd.DataFrame(rows)


def test_ofi_and_l1_obi_match_an_independent_walk_of_the_quotes(week):
    db, features = week
    quotes = db.frame(
        "select symbol, update_id, ts, bid_price, bid_qty, ask_price, ask_qty from raw.l1_quotes where market = 'spot'"
    )
    expected = _l1_expected(quotes)
    # Buckets without an update: no OFI, no OBI (their coverage is what they inherited).
    merged = features.merge(expected, on=["symbol", "bucket_start_at"], how="left", suffixes=("", "_expected"))
    without_updates = merged["l1_update_count_expected"].isna()
    assert (merged.loc[without_updates, "l1_update_count"] == 0).all()
    assert merged.loc[without_updates, ["ofi", "obi_l1_twap", "obi_l1_close"]].isna().all().all()
    merged = merged[~without_updates]
    for column in ("ofi", "ofi_normalized", "obi_l1_close", "l1_update_count"):
        _assert_close(merged, column, rtol=1e-9, atol=1e-9)
    # The window's first bucket inherits nothing from before the data; elsewhere the
    # carried-in state counts too.
    later = merged[merged["bucket_start_at"] > merged["bucket_start_at"].min()]
    _assert_close(later, "l1_coverage", rtol=1e-9, atol=1e-9)
    _assert_close(later, "obi_l1_twap", rtol=1e-9, atol=1e-9)
    assert features["obi_l1_twap"].dropna().between(-1, 1).all()


def test_depth_band_obi_uses_the_newest_snapshot_before_the_bucket_end(week):
    db, features = week
    bands = db.frame("select symbol, ts, side, band_pct::float8 as band_pct, depth from raw.depth_bands")
    wide = bands.pivot_table(index=["symbol", "ts", "band_pct"], columns="side", values="depth").reset_index()
    wide["obi"] = (wide["bid"] - wide["ask"]) / (wide["bid"] + wide["ask"])
    snapshots = wide.pivot_table(index=["symbol", "ts"], columns="band_pct", values="obi").reset_index()
    # Snapshots every 5 minutes on the bucket grid: the newest before a bucket's end is its own.
    snapshots = snapshots.rename(columns={"ts": "bucket_start_at", **{b: f"obi_depth_{int(b)}pct_expected"
                                                                       for b in (1.0, 2.0, 3.0, 4.0, 5.0)}})
    merged = features.merge(snapshots, on=["symbol", "bucket_start_at"], how="left")
    for band in range(1, 6):
        _assert_close(merged, f"obi_depth_{band}pct", rtol=1e-12, atol=1e-12)


def _bs_gamma(spot, strike, vol, years):
    d1 = (np.log(spot / strike) + 0.5 * vol**2 * years) / (vol * np.sqrt(years))
    return np.exp(-0.5 * d1**2) / math.sqrt(2 * math.pi) / (spot * vol * np.sqrt(years))


def test_gamma_exposure_and_zero_gamma_match_numpy(week):
    db, features = week
    chains = db.frame("select * from raw.options_chain where expiry_at > ts")
    chains["symbol"] = chains["underlying"] + "USDT"
    chains["sign"] = np.where(chains["option_type"] == "call", 1.0, -1.0)
    chains["coins"] = chains["open_interest"] * chains["contract_size"]
    chains["gex"] = chains["sign"] * chains["gamma"] * chains["coins"] * chains["underlying_price"] ** 2 * 0.01
    rows = []
    for (symbol, ts), chain in chains.groupby(["symbol", "ts"]):
        spot = chain["underlying_price"].iloc[0]
        by_strike = chain.groupby("strike")["gex"].sum()
        peak = by_strike.abs().sort_index().idxmax()
        years = (chain["expiry_at"] - ts).dt.total_seconds().to_numpy() / (365 * 86400)
        steps = np.arange(-40, 41)
        levels = spot * (1 + steps * 0.005)
        gex = np.array([
            np.sum(chain["sign"] * _bs_gamma(level, chain["strike"].to_numpy(), chain["mark_iv"].to_numpy() / 100,
                                              years) * chain["coins"] * level**2 * 0.01)
            for level in levels
        ])
        zero = math.nan
        changes = np.nonzero(np.sign(gex[:-1]) * np.sign(gex[1:]) < 0)[0]
        if len(changes):
            i = changes[np.argmin(np.abs(steps[changes] + 0.5))]
            zero = levels[i] - gex[i] * (levels[i + 1] - levels[i]) / (gex[i + 1] - gex[i])
        rows.append({"symbol": symbol, "snapshot_at": ts, "gamma_exposure_expected": chain["gex"].sum(),
                     "peak_expected": peak / spot - 1, "zero_expected": zero / spot - 1})
    snapshots = pd.DataFrame(rows).sort_values("snapshot_at")
    # Hourly chains: the newest snapshot before a bucket's end is the one of its hour.
    with_snapshot = pd.merge_asof(
        features.assign(bucket_end=features["bucket_start_at"] + BUCKET - pd.Timedelta(microseconds=1))
        .sort_values("bucket_end"),
        snapshots, left_on="bucket_end", right_on="snapshot_at", by="symbol", direction="backward",
    )
    assert (with_snapshot["gamma_snapshot_at"] == with_snapshot["snapshot_at"]).all()
    _assert_close(with_snapshot, "gamma_exposure", rtol=1e-9, atol=1e-6)
    assert np.allclose(with_snapshot["max_abs_gamma_strike_distance"], with_snapshot["peak_expected"], rtol=1e-12)
    assert np.allclose(with_snapshot["zero_gamma_distance"], with_snapshot["zero_expected"],
                       rtol=1e-6, atol=1e-9, equal_nan=True)
    # The re-pricing reproduces the chain's own gamma at the quoted spot (the synthetic
    # chain carries Black-Scholes greeks), so the grid's zero is consistent with the exposure.
    assert with_snapshot["zero_gamma_distance"].notna().mean() > 0.9
