"""USD-M futures archives (bookTicker, bookDepth, metrics, fundingRate) over a local HTTP server and from a directory.

Fixture files are written in Binance's published layouts (tests/futures_archives.py);
expected counts and values come from the rows the fixtures wrote, never from the loader.
bookTicker days after 2024-03-30 are absent, so the server answers 404 as Binance does.
"""

from __future__ import annotations

import doctest
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest

from sniper.cli import main
from sniper.ingest import binance_csv, config, layout
from sniper.ingest import lines as line_batches
from sniper.ingest.binance import ArchiveHasNoSymbol, ingest_binance, not_published_line
from sniper.ingest.config import BinanceRequest, FileRequest, RetryPolicy
from sniper.ingest.layout import ArchiveName
from sniper.ingest.local import ingest_recordings
from tests.conftest import run_cli
from tests.futures_archives import (
    BOOK_DEPTH_HEADER,
    BOOK_TICKER_HEADER,
    BOOK_TICKER_LAST_DAY,
    FUNDING_RATE_HEADER,
    METRICS_HEADER,
    FUTURES_KINDS,
    make_book_ticks,
    make_depth_bands,
    make_funding,
    make_metrics,
    trade_row,
    write_archive_tree,
)
from tests.ingest_fixtures import archive_server, csv_text, stream_line, write_archive, write_gzip_lines

SYMBOLS = ("BTCUSDT", "ETHUSDT")
DAYS = [date(2024, 3, 25) + timedelta(days=i) for i in range(11)]  # 2024-03-25 .. 2024-04-04
END = DAYS[-1] + timedelta(days=1)
FAST_RETRY = RetryPolicy(attempts=2, base_delay_seconds=0.01, max_delay_seconds=0.02, timeout_seconds=5)
# What each kind's rows look like when read back, in the order the fixtures' row() gives them.
READ_BACK = {
    "bookTicker": ("raw.l1_quotes", "update_id, ts, bid_price, bid_qty, ask_price, ask_qty"),
    "bookDepth": ("raw.depth_bands", "ts, side, band_pct::float8, depth, notional"),
    "metrics": ("raw.futures_metrics", "ts, sum_open_interest, sum_open_interest_value,"
                " count_toptrader_long_short_ratio, sum_toptrader_long_short_ratio, count_long_short_ratio,"
                " sum_taker_long_short_vol_ratio"),
    "fundingRate": ("raw.funding_rates", "ts, funding_interval_hours, funding_rate"),
    "trades": ("raw.trades", "trade_id, ts, price, qty, is_buyer_maker"),
}
ALL_TABLES = ("raw.trades", "raw.l1_quotes", "raw.depth_bands", "raw.futures_metrics", "raw.funding_rates",
              "raw.load_ledger", "raw.load_failures", "raw.load_rejects")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return write_archive_tree(tmp_path_factory.mktemp("mirror"), SYMBOLS, DAYS)


@pytest.fixture(scope="module")
def server(tree):
    with archive_server(tree.root) as served:
        yield served


@pytest.fixture
def conn(database):
    with database.connect(autocommit=True) as connection:
        yield connection


def request(kind: str, symbol: str = "BTCUSDT", **fields) -> BinanceRequest:
    market = "spot" if kind == "trades" else "um"
    defaults = dict(market=market, kind=kind, symbol=symbol, start=DAYS[0], end=END, retry=FAST_RETRY)
    return BinanceRequest(**{**defaults, **fields})


def stored(conn: psycopg.Connection, kind: str, symbol: str) -> list[tuple]:
    table, columns = READ_BACK[kind]
    return conn.execute(
        f"select {columns} from {table} where symbol = %s and exchange = 'binance' order by 1, 2, 3", (symbol,)
    ).fetchall()


def expected_rows(tree, kind: str, symbol: str) -> list[tuple]:
    market = "spot" if kind == "trades" else "um"
    rows = tree.expected(market, kind, symbol)
    return sorted(trade_row(r) if kind == "trades" else r.row() for r in rows)


def counts(conn: psycopg.Connection) -> dict[str, int]:
    return {table: conn.execute(f"select count(*) from {table}").fetchone()[0] for table in ALL_TABLES}


def test_every_kind_loads_exactly_round_trips_and_a_rerun_loads_nothing(tree, server, conn):
    base_url, log = server
    answers_before = len(log.answers)
    for symbol in SYMBOLS:
        for kind in (*FUTURES_KINDS, "trades"):
            outcomes = ingest_binance(conn, request(kind, symbol, base_url=base_url))
            expected_files = tree.files("spot" if kind == "trades" else "um", kind, symbol)
            assert [o.label for o in outcomes if o.status == "loaded"] == expected_files, (kind, symbol)
            assert all(o.result.rows_rejected == 0 for o in outcomes if o.result), (kind, symbol)
            if kind == "bookTicker":
                assert [o.day for o in outcomes if o.status == "not published"] == [
                    d for d in DAYS if d > BOOK_TICKER_LAST_DAY]
            else:
                assert all(o.status == "loaded" for o in outcomes), (kind, symbol)
            assert stored(conn, kind, symbol) == expected_rows(tree, kind, symbol), (kind, symbol)
    assert conn.execute("select count(*) from raw.load_failures").fetchone()[0] == 0
    assert conn.execute("select count(*) from raw.load_rejects").fetchone()[0] == 0
    # fundingRate is monthly: the eleven days touch two monthly files, each loaded whole.
    assert tree.files("um", "fundingRate", "BTCUSDT") == ["2024-03", "2024-04"]
    funding_sources = [row[0] for row in conn.execute(
        "select source from raw.load_ledger where data_kind = 'fundingRate' and symbol = 'BTCUSDT' order by 1")]
    assert funding_sources == [ArchiveName("um", "fundingRate", "BTCUSDT", month).relative_path
                               for month in (date(2024, 3, 1), date(2024, 4, 1))]
    # The server really answered 404 for bookTicker after 2024-03-30, and only there.
    missing = sorted(path for path, status in log.answers[answers_before:] if status == 404)
    assert missing == sorted(ArchiveName("um", "bookTicker", s, d).relative_path
                             for s in SYMBOLS for d in DAYS if d > BOOK_TICKER_LAST_DAY)

    before, requests_before = counts(conn), len(log.requests)
    for symbol in SYMBOLS:
        for kind in (*FUTURES_KINDS, "trades"):
            again = ingest_binance(conn, request(kind, symbol, base_url=base_url))
            assert {o.status for o in again} <= {"already loaded", "not published"}, (kind, symbol)
    assert counts(conn) == before
    asked_again = log.requests[requests_before:]
    assert all("bookTicker" in path for path in asked_again)  # only the unpublished days are asked again
    assert len(asked_again) == 2 * sum(d > BOOK_TICKER_LAST_DAY for d in DAYS)


def test_not_published_days_are_one_line_and_exit_0(tree, server, database):
    base_url, _ = server
    result = run_cli("ingest", "binance", "--market", "um", "--kind", "bookTicker", "--symbol", "ETHUSDT",
                     "--start", DAYS[0].isoformat(), "--end", END.isoformat(), "--base-url", base_url)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    [line] = [line for line in result.stdout.splitlines() if "not published" in line]
    assert line == ("bookTicker: 2024-03-31 .. 2024-04-04 not published "
                    "(Binance published um bookTicker from 2023-05-16 to 2024-03-30)")
    assert "ledger: 6 of 11 days held for ETHUSDT um bookTicker" in result.stdout
    expected = tree.expected_count("um", "bookTicker", "ETHUSDT")
    assert f"raw.l1_quotes holds {expected:,} rows" in result.stdout
    assert database.scalar("select count(*) from raw.l1_quotes where symbol = 'ETHUSDT'") == expected
    assert database.scalar("select count(*) from raw.load_failures") == 0


def test_days_before_and_after_the_published_range_share_one_line(tmp_path, conn):
    write_archive_tree(tmp_path, ["BTCUSDT"], [date(2023, 5, 16), date(2023, 5, 17)], ["bookTicker"])
    ticker = request("bookTicker", start=date(2023, 5, 14), end=date(2023, 5, 18), from_dir=tmp_path)
    outcomes = ingest_binance(conn, ticker)
    assert [o.status for o in outcomes] == ["not published", "not published", "loaded", "loaded"]
    assert not_published_line(ticker, outcomes) == (
        "bookTicker: 2023-05-14 .. 2023-05-15 not published "
        "(Binance published um bookTicker from 2023-05-16 to 2024-03-30)")

    # metrics start on 2021-12-01 and today's file comes tomorrow: both ends in one line.
    write_archive_tree(tmp_path, ["BTCUSDT"], [date(2021, 12, 1)], ["metrics"])
    metrics = request("metrics", start=date(2021, 11, 29), end=date(2021, 12, 3), from_dir=tmp_path)
    outcomes = ingest_binance(conn, metrics, today=date(2021, 12, 2))
    assert [o.status for o in outcomes] == ["not published", "not published", "loaded", "not published"]
    assert not_published_line(metrics, outcomes) == (
        "metrics: 2021-11-29 .. 2021-11-30 and 2021-12-02 not published "
        "(Binance publishes um metrics from 2021-12-01, each day's file the day after)")
    assert conn.execute("select count(*) from raw.load_failures").fetchone()[0] == 0


def test_a_404_inside_the_published_range_fails_that_day_only_and_a_rerun_completes(tmp_path, database):
    days = DAYS[:3]
    tree = write_archive_tree(tmp_path, ["BTCUSDT"], days, ["bookDepth"])
    missing = ArchiveName("um", "bookDepth", "BTCUSDT", days[1])
    (tmp_path / missing.relative_path).unlink()
    args = ["ingest", "binance", "--market", "um", "--kind", "bookDepth", "--symbol", "BTCUSDT",
            "--start", days[0].isoformat(), "--end", (days[-1] + timedelta(days=1)).isoformat()]
    with archive_server(tmp_path) as (base_url, _):
        first = run_cli(*args, "--base-url", base_url)
        assert first.returncode == 2
        [line] = first.stderr.strip().splitlines()
        assert line.startswith("sniper: error: no archive for 2024-03-26: ") and "404" in line
        assert "not published" not in first.stdout
        per_day = len(tree.rows[("um", "bookDepth", "BTCUSDT")]["2024-03-25"])
        assert database.scalar("select count(*) from raw.depth_bands") == 2 * per_day
        assert database.scalar("select count(*) from raw.load_failures") == 1

        write_archive(tmp_path, missing, csv_text([b.line() for b in make_depth_bands(days[1], 12, "BTCUSDT")]))
        with database.connect(autocommit=True) as conn:
            rerun = ingest_binance(conn, request("bookDepth", start=days[0], end=days[-1] + timedelta(days=1),
                                                 base_url=base_url))
    assert [o.status for o in rerun] == ["already loaded", "loaded", "already loaded"]
    assert database.scalar("select count(*) from raw.depth_bands") == 3 * per_day


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tree, server, database, capsys):
    """Each case through the CLI's own main() (parser, validation, error line); the last also as a process."""
    base_url, _ = server

    def args(market: str = "um", kind: str = "bookDepth", symbol: str = "BTCUSDT") -> tuple[str, ...]:
        return ("ingest", "binance", "--market", market, "--kind", kind, "--symbol", symbol,
                "--start", DAYS[0].isoformat(), "--end", DAYS[3].isoformat(), "--base-url", base_url)

    cases = {
        args(market="cm"): "argument --market: invalid choice: 'cm'",
        args(kind="depth"): "argument --kind: invalid choice: 'depth'",
        **{args(market="spot", kind=kind): f"{kind} archives exist for um only, not spot" for kind in FUTURES_KINDS},
        args(kind="fundingRate", symbol="FOOUSDT"): "the archive has no um fundingRate for FOOUSDT: "
                                                    "every requested month it publishes (2024-03)",
        args(symbol="FOOUSDT"): "the archive has no um bookDepth for FOOUSDT: every requested day it "
                                "publishes (2024-03-25 .. 2024-03-27) answered 404 Not Found",
    }
    for command, expected in cases.items():
        try:
            code = main(list(command))
        except SystemExit as exit_:  # argparse's own refusal
            code = exit_.code
        out, err = capsys.readouterr()
        assert code == 2, (command, out)
        [line] = err.splitlines()
        assert expected in line and line.startswith("sniper"), line
        assert "Traceback" not in err + out
    as_a_user = run_cli(*command)
    assert as_a_user.returncode == 2 and as_a_user.stderr.strip() == line
    with database.connect() as conn:
        assert set(counts(conn).values()) == {0}


def test_a_symbol_the_archive_lacks_is_refused_before_anything_is_recorded(tree, conn):
    with pytest.raises(ArchiveHasNoSymbol, match="the archive has no um metrics for XYZUSDT"):
        ingest_binance(conn, request("metrics", "XYZUSDT", from_dir=tree.root))
    assert set(counts(conn).values()) == {0}


NOON_MS = int(datetime(2024, 3, 27, 12, tzinfo=timezone.utc).timestamp()) * 1000
BAD_LINES = {
    "bookTicker": (BOOK_TICKER_HEADER, {
        f"1,abc,1.0,2.0,1.0,{NOON_MS},{NOON_MS + 5}": "best_bid_price is not a number",
        f"2,0,1.0,2.0,1.0,{NOON_MS},{NOON_MS + 5}": "best_bid_price is not positive",
        f"3,1.0,-1.0,2.0,1.0,{NOON_MS},{NOON_MS + 5}": "best_bid_qty is negative",
        f"4,1.0,1.0,inf,1.0,{NOON_MS},{NOON_MS + 5}": "best_ask_price is not a finite number",
        f"5,1.0,1.0,2.0,1e400,{NOON_MS},{NOON_MS + 5}": "best_ask_qty is not a finite number",
        f"6,1.0,1.0,2.0,1.0,{NOON_MS + 86_400_000},{NOON_MS + 86_400_005}":
            "transaction_time is outside 2024-03-27 UTC",
        f"7,1.0,1.0,2.0,1.0,{NOON_MS},{NOON_MS + 7_200_000}": "event_time is more than an hour from transaction_time",
        f"x8,1.0,1.0,2.0,1.0,{NOON_MS},{NOON_MS + 5}": "update_id is not an integer",
        "9,1.0,1.0": "expected 7 columns, found 3",
    }),
    "bookDepth": (BOOK_DEPTH_HEADER, {
        "2024-03-27 12:00:00,0,1.0,1.0": "percentage is zero (neither bid nor ask)",
        "2024-03-27 12:00:00,0.125,1.0,1.0": "percentage is not a band below 100 with at most 2 decimals",
        "2024-03-27 12:00:00,-100,1.0,1.0": "percentage is not a band below 100 with at most 2 decimals",
        "2024-03-27 12:00:00,-1,NaN,1.0": "depth is not a number",
        "2024-03-27 12:00:00,-1,1.0,-5": "notional is negative",
        f"{NOON_MS},-1,1.0,1.0": "timestamp is not a UTC time 'YYYY-MM-DD HH:MM:SS'",
        "2024-03-28 00:00:00,-1,1.0,1.0": "timestamp is outside 2024-03-27 UTC",
        "2024-03-27 00:00:07,-5,99.0,99.0": "timestamp 2024-03-27 00:00:07 percentage -5 repeats an earlier row"
                                            " with other values: depth 99.0 (earlier 39.0), notional 99.0"
                                            " (earlier 2496000.0)",
    }),
    "metrics": (METRICS_HEADER, {
        "2024-03-27 12:02:00,ETHUSDT,1.0,1.0,1.0,1.0,1.0,1.0": "symbol is not BTCUSDT",
        "2024-03-27 12:02:00,BTCUSDT,,1.0,1.0,1.0,1.0,1.0": "sum_open_interest is not a number",
        "2024-03-27 12:02:00,BTCUSDT,1.0,-inf,1.0,1.0,1.0,1.0": "sum_open_interest_value is not a finite number",
        "2024-03-27 12:02:00,BTCUSDT,1.0,1.0,1.0,1.0,-1,1.0": "count_long_short_ratio is negative",
        "2024-03-27,BTCUSDT,1.0,1.0,1.0,1.0,1.0,1.0": "create_time is not a UTC time 'YYYY-MM-DD HH:MM:SS'",
        "2024-03-27 01:00:00,BTCUSDT,1.0,1.0,1.0,1.0,1.0,1.0": "create_time 2024-03-27 01:00:00 repeats an earlier"
                                                               " row with other values: sum_open_interest 1.0"
                                                               " (earlier 80000.5), sum_open_interest_value 1.0"
                                                               " (earlier 5120032000.0),"
                                                               " count_toptrader_long_short_ratio 1.0 (earlier 1.125),"
                                                               " sum_toptrader_long_short_ratio 1.0 (earlier 1.625),"
                                                               " count_long_short_ratio 1.0 (earlier 1.375),"
                                                               " sum_taker_long_short_vol_ratio 1.0 (earlier 0.5625)",
    }),
    "fundingRate": (FUNDING_RATE_HEADER, {
        f"{NOON_MS},0,0.0001": "funding_interval_hours is not between 1 and 24",
        f"{NOON_MS},8.5,0.0001": "funding_interval_hours is not an integer",
        f"{NOON_MS},8,1.5": "last_funding_rate is not between -1 and 1",
        f"{NOON_MS},8,nan": "last_funding_rate is not a number",
        "1711929600000,8,0.0001": "calc_time is outside 2024-03 UTC",
        "1709251200001,4,0.0001": "calc_time 1709251200001 repeats an earlier row with other values:"
                                  " funding_interval_hours 4 (earlier 8), last_funding_rate 0.0001"
                                  " (earlier -0.00018310546875)",
    }),
}


def good_lines(kind: str, day: date) -> list[str]:
    if kind == "bookTicker":
        return [t.line() for t in make_book_ticks(day, 20, 100, "BTCUSDT")]
    if kind == "bookDepth":
        return [b.line() for b in make_depth_bands(day, 4, "BTCUSDT")]
    if kind == "metrics":
        return [m.line() for m in make_metrics(day, "BTCUSDT", every_minutes=60)]
    return [f.line() for f in make_funding(day.replace(day=1))]


@pytest.mark.parametrize("kind", FUTURES_KINDS)
def test_bad_rows_are_rejected_with_reasons_and_a_bad_checksum_loads_nothing(tmp_path, conn, kind):
    day = date(2024, 3, 27)
    header, bad = BAD_LINES[kind]
    good = good_lines(kind, day)
    exact_repeat = good[0]
    lines = good[:3] + list(bad) + [exact_repeat] + good[3:]
    name = ArchiveName("um", kind, "BTCUSDT", day.replace(day=1) if kind == "fundingRate" else day)
    write_archive(tmp_path, name, csv_text(lines, header))
    following = day + timedelta(days=1)
    tampered = ArchiveName("um", kind, "BTCUSDT", date(2024, 4, 1) if kind == "fundingRate" else following)
    write_archive(tmp_path, tampered, csv_text(good_lines(kind, tampered.day), header), checksum="bad")

    outcomes = ingest_binance(conn, request(kind, start=day, end=tampered.day + timedelta(days=1), from_dir=tmp_path))
    assert [o.status for o in outcomes] == ["loaded", "failed"]
    assert "checksum mismatch" in outcomes[1].message and outcomes[1].message.endswith("not loaded")
    result = outcomes[0].result
    assert (result.rows_loaded, result.rows_rejected, result.rows_duplicate) == (len(good), len(bad), 1)
    rejects = conn.execute("select line_number, raw_text, reason, source from raw.load_rejects order by 1").fetchall()
    assert [(n, text, reason) for n, text, reason, _ in rejects] == [
        (5 + i, text, reason) for i, (text, reason) in enumerate(bad.items())]  # header, 3 good lines, then bad
    assert {source for *_, source in rejects} == {name.relative_path}
    table = READ_BACK[kind][0]
    assert conn.execute(f"select count(*) from {table}").fetchone()[0] == len(good)
    assert conn.execute("select count(*) from raw.load_ledger").fetchone()[0] == 1
    assert conn.execute("select source from raw.load_failures").fetchall() == [(tampered.relative_path,)]


def test_a_file_with_a_foreign_header_fails_whole(tmp_path, conn):
    day = date(2024, 3, 27)
    name = ArchiveName("um", "metrics", "BTCUSDT", day)
    renamed = METRICS_HEADER.replace("sum_open_interest_value", "open_interest_value")
    write_archive(tmp_path, name, csv_text([m.line() for m in make_metrics(day, "BTCUSDT")], renamed))
    [outcome] = ingest_binance(conn, request("metrics", start=day, end=day + timedelta(days=1), from_dir=tmp_path))
    assert outcome.status == "failed" and "unexpected header" in outcome.message
    assert conn.execute("select count(*) from raw.futures_metrics").fetchone()[0] == 0


def test_an_update_recorded_live_and_archived_is_one_row(tmp_path, conn):
    """A um @bookTicker message and the archive's line of the same update: the second load counts a duplicate."""
    day = date(2024, 3, 27)
    ticks = make_book_ticks(day, 5, 3_900_000_000_000, "BTCUSDT")
    messages = [
        stream_line((t.transaction_us + 20_000) * 1000, "btcusdt@bookTicker", {
            "e": "bookTicker", "u": t.update_id, "s": "BTCUSDT", "b": f"{t.bid:.2f}", "B": f"{t.bid_qty:.3f}",
            "a": f"{t.ask:.2f}", "A": f"{t.ask_qty:.3f}", "T": t.transaction_us // 1000,
            "E": t.transaction_us // 1000 + 5})
        for t in ticks[:3]
    ]
    [recorded] = ingest_recordings(conn, FileRequest(files=[write_gzip_lines(tmp_path / "um.gz", messages)]))
    assert (recorded.status, recorded.result.rows_loaded) == ("loaded", 3)
    write_archive(tmp_path, ArchiveName("um", "bookTicker", "BTCUSDT", day),
                  csv_text([t.line() for t in ticks], BOOK_TICKER_HEADER))
    [archived] = ingest_binance(conn, request("bookTicker", start=day, end=day + timedelta(days=1), from_dir=tmp_path))
    result = archived.result
    assert (result.rows_loaded, result.rows_duplicate, result.rows_rejected) == (2, 3, 0)
    assert stored(conn, "bookTicker", "BTCUSDT") == sorted(t.row() for t in ticks)


@pytest.mark.parametrize("module", [config, layout, line_batches, binance_csv], ids=lambda m: m.__name__)
def test_the_documented_examples_hold(module):
    """The docstring examples: the end of a still-published range, monthly paths, UTC text times, month bounds."""
    result = doctest.testmod(module, verbose=False)
    assert result.attempted > 0 and result.failed == 0
