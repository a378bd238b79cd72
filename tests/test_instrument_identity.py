"""Instrument identity: an instrument is (exchange, market, symbol) in every layer.

- Every dbt model keys by the three columns, never by the symbol alone: checked on the parsed
  project (unique keys, documented columns, uniqueness tests) and on the SQL text (joins,
  partitions, groupings), and each check is shown to catch a model that keys by symbol alone.
- The real spot and USD-M BTCUSDT captures of 2024-08-08 load side by side into one
  warehouse; the 5m candles of both instruments equal candles computed here from the
  capture files, and they differ where the two markets' trades differ.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from sniper.ingest.config import FileRequest
from sniper.ingest.local import ingest_recordings
from sniper.warehouse import invoke_dbt
from tests.conftest import REALDATA, REPO

INSTRUMENT = ("exchange", "market", "symbol")
# Joins, partitions, groupings and orderings that name the symbol without the market: the
# shapes a model keyed by symbol alone takes (macros/instrument.sql has the join to use).
SYMBOL_ALONE = {
    "join on the symbol alone": re.compile(r"\b\w+\.symbol\s*=\s*\w+\.symbol\b"),
    "partition by the symbol alone": re.compile(r"partition\s+by\s+(\w+\.)?symbol\b"),
    "group by the symbol alone": re.compile(r"group\s+by\s+(\w+\.)?symbol\b"),
    "distinct on the symbol alone": re.compile(r"distinct\s+on\s*\(\s*(\w+\.)?symbol\b"),
}


def symbol_alone_in_sql(text: str) -> list[str]:
    """The SYMBOL_ALONE shapes found in one SQL file's text."""
    return [name for name, pattern in SYMBOL_ALONE.items() if pattern.search(text)]


def key_problems(manifest: dict) -> list[str]:
    """Models (and their uniqueness tests) of the project that key by the symbol without the market."""
    problems = []
    models = {key: node for key, node in manifest["nodes"].items()
              if node["resource_type"] == "model" and node["package_name"] == "sniper"}
    for key, node in models.items():
        unique_key = node["config"].get("unique_key") or []
        unique_key = [unique_key] if isinstance(unique_key, str) else unique_key
        if "symbol" in unique_key and not set(INSTRUMENT) <= set(unique_key):
            problems.append(f"{node['name']}: unique_key {unique_key}")
        if "symbol" in node["columns"] and not set(INSTRUMENT) <= set(node["columns"]):
            problems.append(f"{node['name']}: documents symbol without exchange and market")
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or not node.get("test_metadata"):
            continue
        kwargs = node["test_metadata"].get("kwargs", {})
        named = " ".join(str(value) for value in (kwargs.get("columns"), kwargs.get("column_name")) if value)
        if node["test_metadata"]["name"] in ("unique", "unique_combination") and re.search(r"\bsymbol\b", named) \
                and not all(re.search(rf"\b{column}\b", named) for column in INSTRUMENT):
            problems.append(f"{node['name']}: unique over {named}")
    return problems


@pytest.fixture(scope="module")
def manifest(module_database, tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("dbt-target")
    assert invoke_dbt(["parse", "--target-path", str(target)]).success
    return json.loads((target / "manifest.json").read_text())


def test_every_model_keys_by_the_instrument(manifest):
    assert key_problems(manifest) == []
    keyed = [node["name"] for node in manifest["nodes"].values()
             if node["resource_type"] == "model" and node["config"].get("unique_key")]
    assert {"candles_5m", "candles_1mo", "features_5m", "features_1h", "iceberg_events"} <= set(keyed)


def test_a_model_keyed_by_symbol_alone_is_caught(manifest):
    broken = json.loads(json.dumps(manifest))
    node = next(node for node in broken["nodes"].values() if node["name"] == "candles_1h")
    node["config"]["unique_key"] = ["symbol", "bucket_start_at"]
    del node["columns"]["market"]
    test = next(node for node in broken["nodes"].values()
                if node["resource_type"] == "test" and node.get("test_metadata", {}).get("name") == "unique_combination")
    test["test_metadata"]["kwargs"]["columns"] = ["symbol", "bucket_start_at"]
    problems = key_problems(broken)
    assert "candles_1h: unique_key ['symbol', 'bucket_start_at']" in problems
    assert "candles_1h: documents symbol without exchange and market" in problems
    assert f"{test['name']}: unique over ['symbol', 'bucket_start_at']" in problems


def test_no_sql_joins_partitions_or_groups_by_symbol_alone():
    files = [path for folder in ("models", "macros", "tests/dbt") for path in sorted((REPO / folder).rglob("*.sql"))]
    assert len(files) > 40
    found = {str(path.relative_to(REPO)): symbol_alone_in_sql(path.read_text()) for path in files}
    assert {path: shapes for path, shapes in found.items() if shapes} == {}
    # Each shape is caught where a model keyed by symbol alone would write it.
    assert symbol_alone_in_sql("inner join b on a.symbol = b.symbol") == ["join on the symbol alone"]
    assert symbol_alone_in_sql("over (partition by symbol order by t)") == ["partition by the symbol alone"]
    assert symbol_alone_in_sql("from x group by symbol, bucket") == ["group by the symbol alone"]
    assert symbol_alone_in_sql("select distinct on (symbol, t) *") == ["distinct on the symbol alone"]
    assert symbol_alone_in_sql("partition by exchange, market, symbol order by t") == []


# --- spot and USD-M side by side -------------------------------------------------------

CAPTURES = {"spot": REALDATA / "binance-websocket" / "spot_btcusdt_20240808.gz",
            "um": REALDATA / "binance-websocket" / "usdm_btcusdt_20240808.gz"}


def _capture_candles(path: Path) -> pd.DataFrame:
    """5m candles of one capture's trade messages, computed here from the file."""
    trades = []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            _, payload = line.split(" ", 1)
            if '@trade"' not in payload[:40]:  # the combined stream <symbol>@trade
                continue
            data = json.loads(payload)["data"]
            trades.append((data["t"], data["T"], float(data["p"]), float(data["q"])))
    frame = pd.DataFrame(trades, columns=["trade_id", "ms", "price", "qty"]).sort_values(["ms", "trade_id"])
    frame["bucket_start_at"] = pd.to_datetime(frame["ms"] // 300_000 * 300_000, unit="ms", utc=True)
    return frame.groupby("bucket_start_at").agg(
        open=("price", "first"), high=("price", "max"), low=("price", "min"), close=("price", "last"),
        volume=("qty", "sum"), trade_count=("price", "size"),
    ).reset_index()


@pytest.fixture(scope="module")
def both_markets(module_database):
    with module_database.connect(autocommit=True) as conn:
        outcomes = ingest_recordings(conn, FileRequest(files=list(CAPTURES.values())))
    assert [outcome.status for outcome in outcomes] == ["loaded", "loaded"]
    assert invoke_dbt(["run", "--select", "+candles_5m"], {"window_start": "2024-08-08", "window_days": 2}).success
    return module_database


@pytest.mark.slow
def test_spot_and_um_candles_of_one_symbol_side_by_side(both_markets):
    stored = both_markets.frame(
        "select market, bucket_start_at, open, high, low, close, volume, trade_count from candles.candles_5m"
        " where exchange = 'binance' and symbol = 'BTCUSDT' and not is_empty order by market, bucket_start_at"
    )
    assert sorted(stored["market"].unique()) == ["spot", "um"]
    for market, path in CAPTURES.items():
        mine = stored[stored["market"] == market].drop(columns="market").reset_index(drop=True)
        expected = _capture_candles(path)
        assert len(mine) == len(expected) > 0, market
        pd.testing.assert_frame_equal(
            mine.astype({"trade_count": "int64"}), expected.astype({"trade_count": "int64"}),
            check_exact=False, rtol=1e-9, check_dtype=False, obj=market,
        )
    # Never mixed: the two markets' candles of the same bucket differ (their trades do).
    both = stored.pivot(index="bucket_start_at", columns="market", values="trade_count").dropna()
    assert len(both) and (both["spot"] != both["um"]).all()
