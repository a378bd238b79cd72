"""Live end to end on real captures: `sniper record` (a child process) records the replayed spot
BTCUSDT and ETHUSDT streams of 2024-08-08 23:54 .. 2024-08-09 00:05 from the local websocket
server, which drops the connection at 00:01; the live-materialize flow (real Prefect, real dbt)
builds the closed buckets and scores them with a deployed model.

Expected values come from the capture files themselves: which 5-minute buckets hold trades,
their trade counts, and the model's inputs (taker flow imbalance of the bucket and of the last
three buckets) computed here in pandas from the messages, then fed to the saved XGBoost
boosters directly. The model is trained on a small hand-made ml.training_dataset for the two
instruments (as tests/test_training_repeatable.py does), so it has something to score with.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import xgboost

from sniper.live.scoring import INCOMPLETE, NO_CANDLE, choose_side
from sniper.settings import get_settings
from tests.conftest import run_cli
from tests.hand_made_training import SYMBOLS, hand_made_dataset, train_on_hand_made_dataset
from tests.replay_server import Incident, ReplayServer, read_captures
from tests.test_record import NS, SPOT, no_recorder_left_running, record_all, write_capture  # noqa: F401

FEATURES = ["flow_imbalance", "flow_imbalance_15m"]
DROP_AT = datetime(2024, 8, 9, 0, 1, tzinfo=UTC)


@pytest.fixture
def trained(database, tmp_path, monkeypatch):
    """A run trained on the hand-made dataset (the one table training reads); artifacts under tmp."""
    monkeypatch.setenv("SNIPER_DATA_DIR", str(tmp_path / "state"))
    get_settings.cache_clear()
    yield train_on_hand_made_dataset(database, hand_made_dataset())
    get_settings.cache_clear()


def capture_trades(path, shift_ms: int) -> pd.DataFrame:
    """Every trade message of a capture, its time moved by the replay's shift."""
    records = []
    with gzip.open(path, "rt") as lines:
        for line in lines:
            message = json.loads(line.partition(" ")[2])
            if message.get("stream", "").endswith("@trade"):
                data = message["data"]
                records.append((data["s"], data["t"], float(data["q"]), bool(data["m"]), data["T"] + shift_ms))
    frame = pd.DataFrame(records, columns=["symbol", "trade_id", "qty", "is_buyer_maker", "ms"])
    frame["bucket_start_at"] = pd.to_datetime(frame["ms"] // 300_000 * 300_000, unit="ms", utc=True)
    return frame


def expected_features(trades: pd.DataFrame) -> pd.DataFrame:
    """Per symbol and bucket with trades: taker flow imbalance, and over this and the 2 buckets before."""
    signed = trades.assign(delta=np.where(trades["is_buyer_maker"], -trades["qty"], trades["qty"]))
    buckets = signed.groupby(["symbol", "bucket_start_at"]).agg(delta=("delta", "sum"), volume=("qty", "sum"),
                                                               trades=("trade_id", "count")).reset_index()
    buckets["flow_imbalance"] = buckets["delta"] / buckets["volume"]
    rolling = buckets.groupby("symbol")[["delta", "volume"]].rolling(3, min_periods=1).sum().reset_index(drop=True)
    buckets["flow_imbalance_15m"] = rolling["delta"] / rolling["volume"]
    return buckets.set_index(["symbol", "bucket_start_at"])


def test_recorded_buckets_are_built_and_scored_where_the_captures_put_them(database, trained, tmp_path):
    from sniper.flows.live_materialize import live_materialize
    from sniper.flows.live_score import live_score

    deployed = run_cli("deploy", "--run", trained.run_id)
    assert deployed.returncode == 0, deployed.stderr
    start_ns = int(datetime(2024, 8, 8, 23, 54, 13, tzinfo=UTC).timestamp()) * NS
    files = [SPOT["btcusdt", 8], SPOT["btcusdt", 9], SPOT["ethusdt", 8], SPOT["ethusdt", 9]]
    capture = write_capture(tmp_path / "spot_11min.gz", files, start_ns, start_ns + 700 * NS)
    messages = read_captures([capture])
    drop_ms = (int(DROP_AT.timestamp()) * NS - messages[0].receive_ns) // 1_000_000
    with ReplayServer(messages, speed=40, incidents=(Incident(drop_ms, "drop"),)) as server:
        stopped = record_all(server, database, "spot", ",".join(SYMBOLS))
    assert stopped.returncode == 0, stopped.stderr
    shift = timedelta(milliseconds=server.shift_ms)
    trades = capture_trades(capture, server.shift_ms)
    last_bucket = trades["bucket_start_at"].max()

    # A cycle at the moment the replay's last bucket has closed.
    as_of = last_bucket.to_pydatetime() + timedelta(minutes=5, seconds=3)
    cycle = live_materialize(as_of=as_of)
    assert cycle.skipped is None and cycle.score is not None

    # Buckets: every bucket with a recorded trade, with all its trades, from the first to the last.
    buckets = {b.to_pydatetime() for b in trades["bucket_start_at"]}
    built = database.rows("select symbol, bucket_start_at, times_materialized from ops.live_buckets order by 1, 2")
    assert {(s, b) for s, b, _ in built} == {(s, b) for s in SYMBOLS for b in buckets}
    assert {n for _, _, n in built} == {1}
    candles = {(s, b): (n, complete) for s, b, n, complete in database.rows(
        "select symbol, bucket_start_at, trade_count, is_complete from candles.candles_5m")}
    recorded = dict(((s, b.to_pydatetime()), n) for (s, b), n in
                    trades.groupby(["symbol", "bucket_start_at"])["trade_id"].count().items())
    bucket_2355 = datetime(2024, 8, 8, 23, 55, tzinfo=UTC) + shift
    bucket_0000 = datetime(2024, 8, 9, 0, 0, tzinfo=UTC) + shift
    for symbol in SYMBOLS:
        # Inside the first connection, the whole bucket: all its trades.
        assert candles[symbol, bucket_2355] == (recorded[symbol, bucket_2355], True)
        # The drop at 00:01: the 00:00 bucket lost the trades of the gap and is incomplete.
        count, complete = candles[symbol, bucket_0000]
        assert count < recorded[symbol, bucket_0000] and complete is False
    complete_buckets = {key for key, (_, complete) in candles.items() if complete}
    assert complete_buckets == {(s, bucket_2355) for s in SYMBOLS}  # the first and last are cut by the replay

    # Signals: one row per instrument and built bucket; only complete buckets are scored.
    signals = database.frame(
        "select symbol, bucket_start_at, is_complete, feature_completeness, long_win_probability,"
        " short_win_probability, threshold, side, no_signal_reason, latency_seconds, run_id"
        " from ml.entry_signals order by symbol, bucket_start_at")
    assert len(signals) == len(built) and set(signals["run_id"]) == {trained.run_id}
    assert signals["latency_seconds"].notna().all()
    metadata = json.loads((trained.artifact_dir / "metadata.json").read_text())
    boosters = {side: xgboost.Booster(model_file=str(trained.artifact_dir / f"model_{side}.json"))
                for side in ("long", "short")}
    features = expected_features(trades)
    for row in signals.itertuples():
        key = (row.symbol, row.bucket_start_at.to_pydatetime())
        if key in complete_buckets:
            assert pd.isna(row.no_signal_reason) and row.feature_completeness == 1.0
            inputs = features.loc[[(row.symbol, row.bucket_start_at)], FEATURES].astype(np.float32)
            matrix = xgboost.DMatrix(inputs, feature_names=FEATURES)
            long_p, short_p = (float(boosters[side].predict(matrix)[0]) for side in ("long", "short"))
            assert row.long_win_probability == pytest.approx(long_p, abs=1e-6)
            assert row.short_win_probability == pytest.approx(short_p, abs=1e-6)
            assert row.threshold == metadata["threshold"]
            assert row.side == choose_side(long_p, short_p, metadata["threshold"])
        else:
            # A bucket of the recorded span that holds no trade of this symbol (a replay slowed
            # by a busy host can end inside the reconnection) has no candle at all.
            reason = INCOMPLETE if key in candles else NO_CANDLE
            assert row.no_signal_reason == reason and row.is_complete is False
            assert pd.isna(row.long_win_probability) and row.side is None

    # Again: nothing new is closed, nothing is late, scoring twice is a no-op.
    again = live_materialize(as_of=as_of)
    assert again.runs == [] and again.score.scored[0].buckets == 0
    assert database.scalar("select count(*) from ml.entry_signals") == len(signals)

    # A late trade in the complete 23:55 bucket of BTCUSDT (an archive-like load after the build):
    # that bucket, and only it, is built again, with the trade in it.
    late_at = bucket_2355 + timedelta(minutes=2)
    with database.connect() as conn:
        conn.execute(
            "insert into raw.trades (exchange, market, symbol, trade_id, ts, price, qty, quote_qty, is_buyer_maker)"
            " values ('binance', 'spot', 'BTCUSDT', 1, %s, 60000, 0.5, 30000, false)", (late_at,))
        conn.execute(
            "insert into raw.load_ledger (source_kind, source, data_kind, exchange, market, symbol, first_ts, last_ts,"
            " rows_loaded) values ('test', 'late trade', 'late_trade', 'binance', 'spot', 'BTCUSDT', %s, %s, 1)",
            (late_at, late_at))
    late = live_materialize(as_of=as_of, score=False)
    assert [(r.instruments, r.start_at, r.buckets, r.late_buckets) for r in late.runs] == [
        (["binance:spot:BTCUSDT"], bucket_2355, 1, 1)]
    assert database.scalar("select trade_count from candles.candles_5m where symbol = 'BTCUSDT'"
                           " and bucket_start_at = %s", (bucket_2355,)) == recorded["BTCUSDT", bucket_2355] + 1
    assert database.rows("select symbol, bucket_start_at from ops.live_buckets where times_materialized = 2") == [
        ("BTCUSDT", bucket_2355)]
    assert live_score().scored[0].buckets == 0  # a bucket scored once stays as scored
