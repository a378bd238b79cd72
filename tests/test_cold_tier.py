"""The cold tier for real (issue 15 item 3): a backfilled synthetic market, weeks moved to Parquet
files and out of PostgreSQL, a force-recomputed cold week giving the same candles and features,
and corrupted or missing files refused with one line and nothing dropped or restored.

The market: BTCUSDT and ETHUSDT, three weeks from Monday 2024-06-03, backfilled by the CLI, then
BTCUSDT's week of June 10 recomputed hot (the reference). With a one-week horizon the weeks of
June 3 and 10 may go cold, June 17 stays hot. Expected values
come from the test's own reads: the raw rows read from PostgreSQL before the move, sha256 of
the file's bytes computed here, pyarrow reading the file here.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem

from sniper.cold.config import ColdConfig
from sniper.cold.move import move_cold
from sniper.cold.restore import RAW_LOOKBACK
from sniper.cold.store import ColdFileError
from sniper.db.connection import connect
from sniper.dbt_vars import ProjectVars
from sniper.instruments import Instrument
from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from tests.conftest import run_cli

pytestmark = pytest.mark.slow

UTC = timezone.utc
BTC = Instrument("synthetic", "spot", "BTCUSDT")
ETH = Instrument("synthetic", "spot", "ETHUSDT")
COLD_WEEKS = [date(2024, 6, 3), date(2024, 6, 10)]
HOT_WEEK = date(2024, 6, 17)
KINDS = {"trades": "trade_id", "l1_quotes": "update_id", "depth_bands": "side, band_pct"}
RECOMPUTE_BTC = ("backfill", "run", "--window-start", f"{COLD_WEEKS[1]}", "--window-days", "7", "--force-recompute",
                 "--symbols", "BTCUSDT", "--sleep", "0")
DERIVED_TABLES = [
    *(f"candles.candles_{timeframe}" for timeframe in ("5m", "15m", "1h", "4h", "1d", "1w", "1mo")),
    *(f"features.{name}" for name in ("features_5m", "features_15m", "features_1h", "features_l1_5m",
                                      "features_trade_flow_5m", "features_depth_5m", "features_gamma_5m",
                                      "features_icebergs_5m", "iceberg_events")),
    "intermediate.int_features__iceberg_intervals",
]


def _week_rows(database, kind: str, instrument: Instrument, week: date) -> pd.DataFrame:
    start = datetime.combine(week, datetime.min.time(), tzinfo=UTC)
    return database.frame(
        f"select * from raw.{kind} where exchange = %s and market = %s and symbol = %s"  # noqa: S608
        f" and ts >= %s and ts < %s order by ts, {KINDS[kind]}",
        (instrument.exchange, instrument.market, instrument.symbol, start, start + timedelta(days=7)),
    )


def _derived(database, instrument: Instrument) -> dict[str, pd.DataFrame]:
    """Every candle and feature row of the instrument, in a fixed order of all columns."""
    frames = {}
    for table in DERIVED_TABLES:
        frame = database.frame(
            f"select * from {table} where exchange = %s and market = %s and symbol = %s",  # noqa: S608
            (instrument.exchange, instrument.market, instrument.symbol),
        )
        frames[table] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return frames


def _ledger(database, instrument: Instrument) -> pd.DataFrame:
    return database.frame(
        "select kind, week_start_date, store_url, path, row_count, first_ts, last_ts, sha256, file_bytes, status,"
        " dropped_by from raw.cold_weeks where exchange = %s and market = %s and symbol = %s"
        " order by week_start_date, kind",
        (instrument.exchange, instrument.market, instrument.symbol),
    )


@pytest.fixture(scope="module")
def warehouse(module_database, tmp_path_factory):
    """Three weeks of two instruments, backfilled; the raw rows and the derived tables as they were."""
    store = tmp_path_factory.mktemp("cold-store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SNIPER_COLD_STORE_URL", str(store))
        with module_database.connect(autocommit=True) as conn:
            generate(conn, SynthConfig(symbols=["BTCUSDT", "ETHUSDT"], start=date(2024, 6, 3), months=1, days=21,
                                       trades_per_day=400))
        backfill = run_cli("backfill", "run", "--weeks", "1", "--window-days", "21", "--sleep", "0")
        assert backfill.returncode == 0, backfill.stderr[-3000:]
        # The hot computation the cold one must equal: the same window, recomputed while hot (a
        # 7-day window sums some floats in another order than the 21-day build did: the gamma
        # features' last bits differ between the two, cold tier or not).
        hot = run_cli(*RECOMPUTE_BTC)
        assert hot.returncode == 0 and "cold tier" not in hot.stderr, hot.stderr[-3000:]
        raw = {(kind, instrument, week): _week_rows(module_database, kind, instrument, week)
               for kind in KINDS for instrument in (BTC, ETH) for week in [*COLD_WEEKS, HOT_WEEK]}
        assert all(len(frame) > 0 for frame in raw.values())
        derived = {instrument: _derived(module_database, instrument) for instrument in (BTC, ETH)}
        yield module_database, store, raw, derived


class CorruptingFileSystem(LocalFileSystem):
    """A store that damages what it keeps: one byte flipped in every file renamed into place
    (a disk or object store going bad; the only thing here that is not the real thing)."""

    protocol = "corruptingfile"
    root_marker = "/"

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol(str(path).removeprefix("corruptingfile://"))

    def mv(self, path1, path2, **kwargs):
        super().mv(path1, path2, **kwargs)
        if str(path2).endswith(".parquet"):
            data = bytearray(Path(path2).read_bytes())
            data[len(data) // 2] ^= 0xFF
            Path(path2).write_bytes(bytes(data))


def test_a_store_that_corrupts_the_file_stops_the_move_before_anything_is_dropped(warehouse, tmp_path):
    database, _, raw, _ = warehouse
    fsspec.register_implementation("corruptingfile", CorruptingFileSystem, clobber=True)
    config = ColdConfig(store_url=f"corruptingfile://{tmp_path}", horizon_weeks=1)
    with connect(autocommit=True) as conn, pytest.raises(ColdFileError) as refused:
        move_cold(conn, config, [BTC])
    message = str(refused.value)
    assert "\n" not in message and "does not read back as written" in message and "was dropped" in message
    assert database.scalar("select count(*) from raw.cold_weeks") == 0
    for week in COLD_WEEKS:
        for kind in KINDS:
            pd.testing.assert_frame_equal(_week_rows(database, kind, BTC, week), raw[(kind, BTC, week)])


def test_moving_btcusdt_writes_verified_files_and_deletes_its_rows(warehouse):
    database, store, raw, _ = warehouse
    plan = run_cli("cold", "move", "--horizon-weeks", "1", "--symbols", "BTCUSDT", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert "dry run: nothing moved" in plan.stdout and "delete their rows" in plan.stdout
    assert len(_ledger(database, BTC)) == 0

    moved = run_cli("cold", "move", "--horizon-weeks", "1", "--symbols", "BTCUSDT")
    assert moved.returncode == 0, moved.stderr
    ledger = _ledger(database, BTC)
    assert [(row.kind, row.week_start_date) for row in ledger.itertuples()] == [
        (kind, week) for week in COLD_WEEKS for kind in sorted(KINDS)]
    # ETHUSDT still holds rows in those partitions: BTCUSDT's rows were deleted, not the partitions.
    assert set(ledger["dropped_by"]) == {"delete_rows"} and set(ledger["status"]) == {"cold"}
    for row in ledger.itertuples():
        expected = raw[(row.kind, BTC, row.week_start_date)]
        path = Path(row.store_url) / row.path
        data = path.read_bytes()
        manifest = json.loads((path.parent / f"_{path.stem}.manifest.json").read_text())
        assert manifest["row_count"] == row.row_count == len(expected)
        assert pd.Timestamp(manifest["first_ts"]) == row.first_ts == expected["ts"].min()
        assert pd.Timestamp(manifest["last_ts"]) == row.last_ts == expected["ts"].max()
        assert manifest["sha256"] == row.sha256 == hashlib.sha256(data).hexdigest()
        assert manifest["file_bytes"] == row.file_bytes == len(data)
        assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
        # The file holds exactly the rows, every float bit for bit.
        from_file = pq.read_table(path).to_pandas()
        from_file = from_file.astype({column: expected[column].dtype for column in expected.columns
                                      if column not in ("ts", "band_pct")})
        from_file["ts"] = from_file["ts"].dt.as_unit(expected["ts"].dt.unit)
        pd.testing.assert_frame_equal(from_file, expected, check_exact=True, check_dtype=False)
        assert _week_rows(database, row.kind, BTC, row.week_start_date).empty
        assert len(_week_rows(database, row.kind, ETH, row.week_start_date)) == len(raw[(row.kind, ETH,
                                                                                             row.week_start_date)])
    for kind in KINDS:  # inside the horizon: hot
        assert len(_week_rows(database, kind, BTC, HOT_WEEK)) == len(raw[(kind, BTC, HOT_WEEK)])
    status = run_cli("cold", "status", env={"COLUMNS": "200"})
    assert status.returncode == 0, status.stderr
    trades_line = next(line for line in status.stdout.splitlines() if line.strip().startswith("raw.trades"))
    cold_trades = sum(len(raw[("trades", BTC, week)]) for week in COLD_WEEKS)
    assert f"{cold_trades:,}" in trades_line


def test_moving_the_last_instrument_of_a_week_drops_its_partition(warehouse):
    database, _, _, _ = warehouse
    moved = run_cli("cold", "move", "--horizon-weeks", "1")
    assert moved.returncode == 0, moved.stderr
    ledger = _ledger(database, ETH)
    assert len(ledger) == len(COLD_WEEKS) * len(KINDS)
    assert set(ledger["dropped_by"]) == {"drop_partition"}
    for week in COLD_WEEKS:
        for kind in KINDS:
            assert database.scalar("select to_regclass(%s)", (f"raw.{kind}_w{week:%Y%m%d}",)) is None
    assert database.scalar("select to_regclass('raw.trades_w20240617')") is not None
    again = run_cli("cold", "move", "--horizon-weeks", "1")
    assert again.returncode == 0 and "nothing to move" in again.stdout, again.stdout + again.stderr


def test_force_recompute_of_a_cold_week_restores_it_and_computes_the_same(warehouse):
    database, _, raw, derived = warehouse
    week = COLD_WEEKS[1]
    result = run_cli(*RECOMPUTE_BTC)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cold tier: restored" in result.stderr
    # The window's week and the week before it (its features' look-back) are back, row for row.
    for restored_week in COLD_WEEKS:
        for kind in KINDS:
            pd.testing.assert_frame_equal(_week_rows(database, kind, BTC, restored_week), raw[(kind, BTC,
                                                                                                 restored_week)])
    restores = database.rows(
        "select kind, week_start_date, rows_restored, reason from raw.cold_restores where symbol = 'BTCUSDT'"
        " order by week_start_date, kind"
    )
    assert [(kind, day, rows) for kind, day, rows, _ in restores] == [
        (kind, day, len(raw[(kind, BTC, day)])) for day in COLD_WEEKS for kind in sorted(KINDS)]
    assert all(reason.startswith(f"backfill window {week} +7d") for *_, reason in restores)
    assert set(_ledger(database, BTC)["status"]) == {"restored"}
    # ETHUSDT's trades of the window's week are back too (the window's data tests compare every
    # instrument's candles with its trades); its other tables and weeks stay cold.
    eth = _ledger(database, ETH).set_index(["kind", "week_start_date"])["status"].to_dict()
    assert eth == {(kind, day): "restored" if (kind, day) == ("trades", week) else "cold"
                   for day in COLD_WEEKS for kind in KINDS}
    pd.testing.assert_frame_equal(_week_rows(database, "trades", ETH, week), raw[("trades", ETH, week)])
    # The window was recomputed (a second attempt), and every candle and feature is as hot.
    assert database.scalar(
        "select count(*) from ops.backfill_runs where symbol = 'BTCUSDT' and window_start_date = %s"
        " and status = 'succeeded'", (week,)) == 2
    after = _derived(database, BTC)
    for table, before in derived[BTC].items():
        assert len(before) > 0, table
        pd.testing.assert_frame_equal(after[table], before, check_exact=True, obj=table)


def test_a_corrupted_file_stops_restore_and_backfill_with_nothing_restored(warehouse):
    database, _, _, derived = warehouse
    week = COLD_WEEKS[1]
    ledger = _ledger(database, ETH)
    cold = [(row.kind, row.week_start_date) for row in ledger.itertuples() if row.status == "cold"]
    restores_before = database.scalar("select count(*) from raw.cold_restores")
    quotes = ledger.set_index(["kind", "week_start_date"]).loc[("l1_quotes", week)]
    path = Path(quotes["store_url"]) / quotes["path"]
    intact = path.read_bytes()
    damaged = bytearray(intact)
    damaged[len(damaged) // 2] ^= 0x01
    path.write_bytes(bytes(damaged))
    try:
        restore = run_cli("cold", "restore", "--week", "2024-06-12", "--symbols", "ETHUSDT")
        assert restore.returncode == 2, restore.stdout + restore.stderr
        assert restore.stderr.count("\n") == 1 and "cold file corrupted" in restore.stderr
        assert str(path) in restore.stderr
        backfill = run_cli("backfill", "run", "--window-start", f"{week}", "--window-days", "7", "--force-recompute",
                           "--symbols", "ETHUSDT", "--sleep", "0")
        assert backfill.returncode == 2 and "cold file corrupted" in backfill.stderr, backfill.stderr[-2000:]
        # Nothing half-restored: the intact files of the same requests were not copied either.
        for kind, day in cold:
            assert _week_rows(database, kind, ETH, day).empty, (kind, day)
        assert [(row.kind, row.week_start_date) for row in _ledger(database, ETH).itertuples()
                if row.status == "cold"] == cold
        assert database.scalar("select count(*) from raw.cold_restores") == restores_before
        after = _derived(database, ETH)  # the window never ran: its candles were not recomputed from nothing
        for table, before in derived[ETH].items():
            pd.testing.assert_frame_equal(after[table], before, check_exact=True, obj=table)
    finally:
        path.write_bytes(intact)


def test_a_missing_file_stops_the_restore_and_the_week_comes_back_once_it_is_there(warehouse):
    database, _, raw, _ = warehouse
    week = COLD_WEEKS[0]
    ledger = _ledger(database, ETH).set_index(["kind", "week_start_date"])
    quotes = ledger.loc[("l1_quotes", week)]
    path = Path(quotes["store_url"]) / quotes["path"]
    kept = path.with_suffix(".kept")
    path.rename(kept)
    try:
        restore = run_cli("cold", "restore", "--week", f"{week}", "--symbols", "ETHUSDT")
        assert restore.returncode == 2 and restore.stderr.count("\n") == 1, restore.stderr
        assert f"cold file missing: {path}" in restore.stderr
        for kind in KINDS:
            assert _week_rows(database, kind, ETH, week).empty, kind
    finally:
        kept.rename(path)
    restore = run_cli("cold", "restore", "--week", f"{week}", "--symbols", "ETHUSDT")
    assert restore.returncode == 0, restore.stderr
    for kind in KINDS:
        pd.testing.assert_frame_equal(_week_rows(database, kind, ETH, week), raw[(kind, ETH, week)])


def test_the_restore_look_back_covers_every_feature_look_back_the_vars_allow():
    """RAW_LOOKBACK must hold the longest read before a window any valid var value makes."""
    def bound(name: str) -> float:
        return next(item.le for item in ProjectVars.model_fields[name].metadata if hasattr(item, "le"))

    longest = max(
        timedelta(minutes=(bound("cvd_rolling_buckets") - 1) * 5),
        timedelta(minutes=bound("iceberg_lookback_minutes")),
        timedelta(minutes=bound("depth_band_max_age_minutes")),
        timedelta(minutes=bound("gamma_snapshot_max_age_minutes")),
        timedelta(seconds=bound("l1_quote_max_age_seconds")),
    )
    assert longest <= RAW_LOOKBACK


@pytest.mark.parametrize("name", ["sniper.cold.kinds", "sniper.cold.store", "sniper.cold.verification"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, (name, result)
