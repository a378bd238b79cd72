"""Binance daily archives over a local HTTP server and from a directory, checked against the files."""

from __future__ import annotations

import hashlib
import math
import zipfile
import zlib
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest

from sniper.ingest.binance import ingest_binance
from sniper.ingest.config import BinanceRequest, RetryPolicy
from sniper.ingest.layout import ArchiveName
from tests.ingest_fixtures import (
    KLINES_HEADER,
    UM_AGG_HEADER,
    UM_TRADES_HEADER,
    agg_trade_line,
    archive_server,
    csv_text,
    kline_line,
    make_klines,
    make_trades,
    spot_trade_line,
    um_trade_line,
    write_archive,
    zip_bytes,
)

WEEK = [date(2024, 6, 1) + timedelta(days=i) for i in range(7)]
FAST_RETRY = RetryPolicy(attempts=3, base_delay_seconds=0.01, max_delay_seconds=0.05, timeout_seconds=5)


def request(**fields) -> BinanceRequest:
    defaults = dict(market="spot", kind="trades", symbol="BTCUSDT", start=WEEK[0], end=WEEK[-1] + timedelta(days=1))
    return BinanceRequest(**{**defaults, "retry": FAST_RETRY, **fields})


def spot_name(day: date, symbol: str = "BTCUSDT", kind: str = "trades") -> ArchiveName:
    return ArchiveName("spot", kind, symbol, day)


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


@pytest.fixture
def conn(database):
    with database.connect(autocommit=True) as connection:
        yield connection


def day_stats(conn: psycopg.Connection, day: date, table: str = "raw.trades", id_column: str = "trade_id"):
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return conn.execute(
        f"select count(*), sum(qty), min({id_column}), max({id_column}), count(*) filter (where is_buyer_maker)"
        f" from {table} where ts >= %s and ts < %s",
        (start, start + timedelta(days=1)),
    ).fetchone()


def test_a_week_over_http_loads_every_day_and_a_rerun_downloads_nothing(tmp_path, conn):
    expected = {}
    payloads = {}
    for index, day in enumerate(WEEK):
        trades = make_trades(day, 300 + 10 * index, first_id=1_000_000 + index * 1_000)
        payloads[day] = write_archive(tmp_path, spot_name(day), csv_text([spot_trade_line(t) for t in trades]))
        expected[day] = trades
    with archive_server(tmp_path) as (base_url, log):
        outcomes = ingest_binance(conn, request(base_url=base_url))
        assert [o.status for o in outcomes] == ["loaded"] * 7
        for day, trades in expected.items():
            count, qty, first_id, last_id, sells = day_stats(conn, day)
            assert count == len(trades)
            assert math.isclose(qty, sum(t.qty for t in trades), rel_tol=1e-12)
            assert (first_id, last_id) == (trades[0].trade_id, trades[-1].trade_id)
            assert sells == sum(t.is_buyer_maker for t in trades)
        ledger = conn.execute(
            "select source, checksum, rows_loaded, rows_rejected, first_ts, last_ts from raw.load_ledger"
            " where source_kind = 'binance' order by source"
        ).fetchall()
        assert len(ledger) == 7
        for (source, checksum, rows, rejected, first_ts, last_ts), day in zip(ledger, WEEK):
            assert source == spot_name(day).relative_path
            assert checksum == hashlib.sha256(payloads[day]).hexdigest()
            assert (rows, rejected) == (len(expected[day]), 0)
            assert (first_ts, last_ts) == (utc(expected[day][0].time), utc(expected[day][-1].time))

        requests_before = len(log.requests)
        again = ingest_binance(conn, request(base_url=base_url))
        assert [o.status for o in again] == ["already loaded"] * 7
        assert len(log.requests) == requests_before  # resume consults the ledger, not the server
    assert conn.execute("select count(*) from raw.trades").fetchone()[0] == sum(map(len, expected.values()))


def test_missing_day_is_reported_other_days_load_and_a_rerun_completes(tmp_path, conn):
    days = WEEK[:3]
    trades = {day: make_trades(day, 50, first_id=10 * (i + 1) * 1000) for i, day in enumerate(days)}
    for day in (days[0], days[2]):
        write_archive(tmp_path, spot_name(day), csv_text([spot_trade_line(t) for t in trades[day]]))
    with archive_server(tmp_path) as (base_url, _):
        outcomes = ingest_binance(conn, request(base_url=base_url, end=days[-1] + timedelta(days=1)))
        assert [o.status for o in outcomes] == ["loaded", "missing", "loaded"]
        assert "404" in outcomes[1].message and "2024-06-02" in outcomes[1].message
        assert day_stats(conn, days[1])[0] == 0
        failures = conn.execute("select source, reason from raw.load_failures").fetchall()
        assert failures == [(spot_name(days[1]).relative_path, outcomes[1].message)]

        write_archive(tmp_path, spot_name(days[1]), csv_text([spot_trade_line(t) for t in trades[days[1]]]))
        rerun = ingest_binance(conn, request(base_url=base_url, end=days[-1] + timedelta(days=1)))
    assert [o.status for o in rerun] == ["already loaded", "loaded", "already loaded"]
    for day in days:
        assert day_stats(conn, day)[0] == len(trades[day])


def test_checksum_mismatch_and_missing_checksum_are_not_loaded(tmp_path, conn):
    days = WEEK[:3]
    for day, checksum in zip(days, ["good", "bad", "none"]):
        lines = [spot_trade_line(t) for t in make_trades(day, 40, first_id=1)]
        write_archive(tmp_path, spot_name(day), csv_text(lines), checksum=checksum)
    outcomes = ingest_binance(conn, request(from_dir=tmp_path, end=days[-1] + timedelta(days=1)))
    assert [o.status for o in outcomes] == ["loaded", "failed", "failed"]
    assert "checksum mismatch" in outcomes[1].message
    assert "no .CHECKSUM" in outcomes[2].message
    assert [day_stats(conn, day)[0] for day in days] == [40, 0, 0]
    ledgered = conn.execute("select count(*) from raw.load_ledger").fetchone()[0]
    assert ledgered == 1


def test_futures_files_with_and_without_header(tmp_path, conn):
    days = WEEK[:2]
    trades = {day: make_trades(day, 120, first_id=5_000_000 + i * 1000) for i, day in enumerate(days)}
    with_header = csv_text([um_trade_line(t) for t in trades[days[0]]], header=UM_TRADES_HEADER)
    without_header = csv_text([um_trade_line(t) for t in trades[days[1]]])
    write_archive(tmp_path, ArchiveName("um", "trades", "BTCUSDT", days[0]), with_header)
    write_archive(tmp_path, ArchiveName("um", "trades", "BTCUSDT", days[1]), without_header)
    assert (tmp_path / "data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2024-06-01.zip").is_file()
    outcomes = ingest_binance(conn, request(market="um", from_dir=tmp_path, end=days[-1] + timedelta(days=1)))
    assert [o.status for o in outcomes] == ["loaded", "loaded"]
    assert [o.result.rows_rejected for o in outcomes] == [0, 0]
    for day in days:
        count, qty, first_id, last_id, sells = day_stats(conn, day)
        assert count == len(trades[day])
        assert math.isclose(qty, sum(t.qty for t in trades[day]), rel_tol=1e-12)
        assert sells == sum(t.is_buyer_maker for t in trades[day])
    assert conn.execute("select distinct market from raw.trades").fetchall() == [("um",)]


def test_spot_microsecond_timestamps_from_2025(tmp_path, conn):
    day = date(2025, 1, 2)
    trades = make_trades(day, 200, first_id=4_300_000_000, micros=True)
    write_archive(tmp_path, spot_name(day), csv_text([spot_trade_line(t) for t in trades]))
    [outcome] = ingest_binance(conn, request(from_dir=tmp_path, start=day, end=day + timedelta(days=1)))
    assert outcome.status == "loaded" and outcome.result.rows_rejected == 0
    stored = conn.execute(
        "select trade_id, (extract(epoch from ts) * 1000000)::bigint from raw.trades order by trade_id"
    ).fetchall()
    assert stored == [(t.trade_id, t.time) for t in trades]  # exact to the microsecond


def test_aggregated_trades_go_to_their_own_table(tmp_path, conn):
    day = WEEK[0]
    trades = make_trades(day, 90, first_id=700)
    write_archive(tmp_path, spot_name(day, kind="aggTrades"), csv_text([agg_trade_line(t, spot=True) for t in trades]))
    write_archive(
        tmp_path,
        ArchiveName("um", "aggTrades", "BTCUSDT", day),
        csv_text([agg_trade_line(t, spot=False) for t in trades], header=UM_AGG_HEADER),
    )
    for market in ("spot", "um"):
        [outcome] = ingest_binance(
            conn, request(market=market, kind="aggTrades", from_dir=tmp_path, start=day, end=day + timedelta(days=1))
        )
        assert outcome.status == "loaded" and outcome.result.rows_rejected == 0
    rows = conn.execute(
        "select market, count(*), sum(qty), min(agg_trade_id), max(agg_trade_id), sum(last_trade_id - first_trade_id)"
        " from raw.agg_trades group by market order by market"
    ).fetchall()
    expected_span = sum(t.trade_id % 3 for t in trades)
    for market, count, qty, first_id, last_id, span in rows:
        assert count == 90 and (first_id, last_id) == (700, 789) and span == expected_span
        assert math.isclose(qty, sum(t.qty for t in trades), rel_tol=1e-12)
    assert [row[0] for row in rows] == ["spot", "um"]
    assert conn.execute("select count(*) from raw.trades").fetchone()[0] == 0


def test_klines_with_interval_layout(tmp_path, conn):
    day = WEEK[0]
    klines = make_klines(day)
    name = ArchiveName("um", "klines", "ETHUSDT", day, "1m")
    write_archive(tmp_path, name, csv_text([kline_line(k) for k in klines], header=KLINES_HEADER))
    assert name.relative_path == "data/futures/um/daily/klines/ETHUSDT/1m/ETHUSDT-1m-2024-06-01.zip"
    [outcome] = ingest_binance(
        conn,
        request(market="um", kind="klines", interval="1m", symbol="ETHUSDT", from_dir=tmp_path, start=day,
                end=day + timedelta(days=1)),
    )
    assert outcome.status == "loaded" and outcome.result.rows_rejected == 0
    count, volume, trades, high, first_open, last_close = conn.execute(
        "select count(*), sum(volume), sum(trade_count), max(high), min(open_at), max(close_at) from raw.klines"
        " where symbol = 'ETHUSDT' and interval = '1m' and market = 'um'"
    ).fetchone()
    assert count == 1440
    assert math.isclose(volume, sum(k.volume for k in klines), rel_tol=1e-12)
    assert trades == sum(k.count for k in klines)
    assert high == max(k.high for k in klines)
    assert (first_open, last_close) == (utc(klines[0].open_time), utc(klines[-1].close_time))


def test_bad_lines_are_rejected_with_line_number_text_and_reason_and_good_rows_kept(tmp_path, conn):
    day = WEEK[0]
    good = make_trades(day, 30, first_id=100)
    noon = int(datetime(2024, 6, 1, 12, tzinfo=timezone.utc).timestamp() * 1000)
    bad_lines = {
        "1,2,3": "expected 7 columns, found 3",
        f"900,abc,0.5,1.0,{noon},True,True": "price is not a number",
        f"901,60000.0,-0.5,-30000.0,{noon},True,True": "quantity is not positive",
        f"902,60000.0,0.5,30000.0,{noon + 86_400_000},True,True": "time is outside 2024-06-01 UTC",
        f"903,60000.0,0.5,30000.0,{noon},maybe,True": "is_buyer_maker is not true/false",
        f"9x4,60000.0,0.5,30000.0,{noon},True,True": "trade id is not an integer",
        "": "empty line",
    }
    lines = [spot_trade_line(t) for t in good[:15]] + list(bad_lines) + [spot_trade_line(t) for t in good[15:]]
    write_archive(tmp_path, spot_name(day), csv_text(lines))
    [outcome] = ingest_binance(conn, request(from_dir=tmp_path, start=day, end=day + timedelta(days=1)))
    assert outcome.status == "loaded"
    assert (outcome.result.rows_loaded, outcome.result.rows_rejected) == (30, len(bad_lines))
    rejects = conn.execute(
        "select line_number, raw_text, reason, source from raw.load_rejects order by line_number"
    ).fetchall()
    assert [(n, text, reason) for n, text, reason, _ in rejects] == [
        (16 + i, text, reason) for i, (text, reason) in enumerate(bad_lines.items())
    ]
    assert {source for *_, source in rejects} == {spot_name(day).relative_path}
    count, qty, first_id, last_id, _ = day_stats(conn, day)
    assert (count, first_id, last_id) == (30, 100, 129)
    assert math.isclose(qty, sum(t.qty for t in good), rel_tol=1e-12)
    assert conn.execute("select rows_loaded, rows_rejected from raw.load_ledger").fetchone() == (30, len(bad_lines))


def test_archives_that_cannot_be_read_are_reported_and_nothing_of_them_loads(tmp_path, conn):
    days = [WEEK[0] + timedelta(days=i) for i in range(6)]
    lines = {day: [spot_trade_line(t) for t in make_trades(day, 25, first_id=1)] for day in days}
    write_archive(tmp_path, spot_name(days[0]), csv_text(lines[days[0]]))
    write_archive(tmp_path, spot_name(days[1]), payload=b"this is not a zip file at all\n")
    # A zip whose compressed data is damaged: the directory reads, the member does not.
    damaged = bytearray(zip_bytes(spot_name(days[2]).csv_name, csv_text(lines[days[2]] * 40)))
    damaged[200:260] = bytes(60)
    write_archive(tmp_path, spot_name(days[2]), payload=bytes(damaged))
    write_archive(tmp_path, spot_name(days[3]), payload=b"")
    write_archive(tmp_path, spot_name(days[4]), csv_text(lines[days[4]]), member="ETHUSDT-trades-2024-06-05.csv")
    write_archive(tmp_path, spot_name(days[5]), csv_text(lines[days[5]], header="price,qty,time"))

    outcomes = ingest_binance(conn, request(from_dir=tmp_path, start=days[0], end=days[-1] + timedelta(days=1)))
    statuses = {o.day: (o.status, o.message) for o in outcomes}
    assert statuses[days[0]][0] == "loaded"
    assert statuses[days[1]] == ("failed", "BTCUSDT-trades-2024-06-02.zip: not a zip archive; not loaded")
    assert statuses[days[2]][0] == "failed" and "corrupt archive" in statuses[days[2]][1]
    assert statuses[days[3]] == ("failed", "BTCUSDT-trades-2024-06-04.zip: empty file (0 bytes); not loaded")
    assert statuses[days[4]][0] == "failed" and "symbol ETHUSDT" in statuses[days[4]][1]
    assert statuses[days[5]][0] == "failed" and "unexpected header" in statuses[days[5]][1]
    assert [day_stats(conn, day)[0] for day in days] == [25, 0, 0, 0, 0, 0]
    assert conn.execute("select count(*) from raw.load_rejects").fetchone()[0] == 0
    assert conn.execute("select count(*) from raw.load_ledger").fetchone()[0] == 1
    assert conn.execute("select count(*) from raw.load_failures").fetchone()[0] == 5
    with zipfile.ZipFile(tmp_path / spot_name(days[2]).relative_path) as archive:  # the damage is real
        with pytest.raises((zipfile.BadZipFile, zlib.error)):
            archive.read(spot_name(days[2]).csv_name)


def test_network_errors_are_retried_with_backoff_then_given_up(tmp_path, conn):
    days = WEEK[:2]
    trades = {day: make_trades(day, 60, first_id=1 + i * 100) for i, day in enumerate(days)}
    for day in days:
        write_archive(tmp_path, spot_name(day), csv_text([spot_trade_line(t) for t in trades[day]]))
    first, second = (spot_name(day).relative_path for day in days)
    with archive_server(tmp_path) as (base_url, log):
        log.faults[first] = ["503", "drop"]  # two failures, then the file: within 3 attempts
        log.faults[second] = ["503", "drop", "503"]  # three failures: attempts exhausted
        outcomes = ingest_binance(conn, request(base_url=base_url, end=days[-1] + timedelta(days=1)))
        assert [o.status for o in outcomes] == ["loaded", "failed"]
        assert "failed after 3 attempts" in outcomes[1].message
        assert log.requests.count(first) == 3 and log.requests.count(second) == 3
        assert day_stats(conn, days[0])[0] == 60 and day_stats(conn, days[1])[0] == 0

        rerun = ingest_binance(conn, request(base_url=base_url, end=days[-1] + timedelta(days=1)))
    assert [o.status for o in rerun] == ["already loaded", "loaded"]
    assert day_stats(conn, days[1])[0] == 60


def test_retry_delays_grow_exponentially_and_are_capped():
    policy = RetryPolicy(base_delay_seconds=0.5, max_delay_seconds=3)
    assert [policy.delay(attempt) for attempt in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_request_validation_explains_the_mistake():
    with pytest.raises(ValueError, match="klines need an interval"):
        request(kind="klines")
    with pytest.raises(ValueError, match="not before end"):
        request(start=date(2024, 6, 8), end=date(2024, 6, 8))
    assert len(request().days) == 7  # the end date is exclusive


def test_bad_kline_and_aggregated_trade_lines_are_rejected_and_good_rows_kept(tmp_path, conn):
    day = WEEK[0]
    klines = make_klines(day)[:20]
    k = klines[0]
    noon = int(datetime(2024, 6, 1, 12, tzinfo=timezone.utc).timestamp() * 1000)
    bad_klines = {
        f"{noon},100.0,90.0,95.0,99.0,1.0,{noon + 59_999},99.0,3,0.5,49.5,0": "high/low do not bound open/close",
        f"{noon},100.0,110.0,95.0,99.0,-1.0,{noon + 59_999},99.0,3,0.5,49.5,0": "volume is negative",
        f"{noon},100.0,110.0,95.0,99.0,1.0,{noon - 1},99.0,3,0.5,49.5,0": "close_time is before open_time",
        f"{noon},100.0,110.0,95.0,99.0,1.0,{noon + 59_999},99.0,three,0.5,49.5,0": "count is not an integer",
        f"{k.open_time - 60_000},100.0,110.0,95.0,99.0,1.0,{k.open_time - 1},99.0,3,0.5,49.5,0":
            "open_time is outside 2024-06-01 UTC",
    }
    name = ArchiveName("spot", "klines", "BTCUSDT", day, "1m")
    write_archive(tmp_path, name, csv_text([kline_line(x) for x in klines[:10]] + list(bad_klines)
                                           + [kline_line(x) for x in klines[10:]]))
    trades = make_trades(day, 12, first_id=50)
    bad_agg = {
        f"900,60000.0,0.5,20,10,{noon},true": "first trade id is after last trade id",
        f"901,60000.0,0.0,20,21,{noon},true": "quantity is not positive",
    }
    write_archive(tmp_path, ArchiveName("um", "aggTrades", "BTCUSDT", day),
                  csv_text([agg_trade_line(t, spot=False) for t in trades] + list(bad_agg)))
    end = day + timedelta(days=1)
    [kline_load] = ingest_binance(conn, request(kind="klines", interval="1m", from_dir=tmp_path, start=day, end=end))
    [agg_load] = ingest_binance(conn, request(market="um", kind="aggTrades", from_dir=tmp_path, start=day, end=end))
    assert (kline_load.result.rows_loaded, kline_load.result.rows_rejected) == (20, len(bad_klines))
    assert (agg_load.result.rows_loaded, agg_load.result.rows_rejected) == (12, len(bad_agg))
    rejects = conn.execute(
        "select source, line_number, raw_text, reason from raw.load_rejects order by source desc, line_number"
    ).fetchall()
    assert rejects == [
        (name.relative_path, 11 + i, text, reason) for i, (text, reason) in enumerate(bad_klines.items())
    ] + [
        (ArchiveName("um", "aggTrades", "BTCUSDT", day).relative_path, 13 + i, text, reason)
        for i, (text, reason) in enumerate(bad_agg.items())
    ]
    volume, count = conn.execute("select sum(volume), count(*) from raw.klines").fetchone()
    assert count == 20 and math.isclose(volume, sum(x.volume for x in klines), rel_tol=1e-12)
    agg_count, agg_qty = conn.execute("select count(*), sum(qty) from raw.agg_trades").fetchone()
    assert agg_count == 12 and math.isclose(agg_qty, sum(t.qty for t in trades), rel_tol=1e-12)


def test_a_malformed_checksum_file_stops_the_day(tmp_path, conn):
    day = WEEK[0]
    name = spot_name(day)
    write_archive(tmp_path, name, csv_text([spot_trade_line(t) for t in make_trades(day, 5, first_id=1)]))
    (tmp_path / name.checksum_path).write_text("<html>not found</html>\n")
    [outcome] = ingest_binance(conn, request(from_dir=tmp_path, start=day, end=day + timedelta(days=1)))
    assert outcome.status == "failed" and "checksum file is not '<sha256>  <filename>'" in outcome.message
    assert conn.execute("select count(*) from raw.trades").fetchone()[0] == 0
