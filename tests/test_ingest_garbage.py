"""Never store garbage (issue #12): no Infinity, NaN or out-of-range number, and no second version of an id.

Every numeric field of every loader is fed inf, -inf, 1e400 (beyond float8: it reads as
inf), -50 and NaN; the line must land in raw.load_rejects with the field and the reason,
and the good lines of the file must load. A trade, aggregate trade or book update whose
exchange id is already held by a different row (at another timestamp or the same one, in
the same file or another) is rejected naming both versions; an exact repeat is a
duplicate, as before. Expected reasons and values are written out here from the rules in
docs/ingest.md and from the lines the tests build.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from sniper.db.migrate import migrate
from sniper.ingest.binance import ingest_binance
from sniper.ingest.config import BinanceRequest, FileRequest, RetryPolicy
from sniper.ingest.layout import ArchiveName
from sniper.ingest.local import ingest_options, ingest_recordings
from sniper.warehouse import invoke_dbt
from tests.ingest_fixtures import (
    TARDIS_HEADER,
    UM_AGG_HEADER,
    Trade,
    agg_trade_line,
    csv_text,
    kline_line,
    make_klines,
    make_trades,
    spot_book_ticker_message,
    spot_trade_line,
    spot_trade_message,
    stream_line,
    write_archive,
    write_gzip_lines,
)
from tests.test_ingest_options import chain_rows, tardis_line

DAY = date(2024, 6, 1)
NEXT_DAY = date(2024, 6, 2)
NOON_MS = 1_717_243_200_000  # 2024-06-01 12:00:00 UTC
GARBAGE = ["inf", "-inf", "1e400", "-50", "NaN"]
FAST_RETRY = RetryPolicy(attempts=1, base_delay_seconds=0.01, max_delay_seconds=0.01, timeout_seconds=5)


@pytest.fixture
def conn(database):
    with database.connect(autocommit=True) as connection:
        yield connection


def load_archive(
    conn, root: Path, name: ArchiveName, lines: list[str], *, header: str | None = None, chunk_rows: int = 50_000
):
    write_archive(root, name, csv_text(lines, header))
    request = BinanceRequest(
        market=name.market, kind=name.kind, symbol=name.symbol, start=name.day, end=name.day + timedelta(days=1),
        interval=name.interval, from_dir=root, chunk_rows=chunk_rows, retry=FAST_RETRY,
    )
    [outcome] = ingest_binance(conn, request)
    assert outcome.status == "loaded", outcome.message
    return outcome.result


def rejects(conn: psycopg.Connection, source: str | None = None) -> list[tuple[int, str, str]]:
    query = "select line_number, raw_text, reason from raw.load_rejects"
    if source is not None:
        return conn.execute(query + " where source = %s order by line_number", (source,)).fetchall()
    return conn.execute(query + " order by source, line_number").fetchall()


def numeric_reason(name: str, value: str, bound: str | None) -> str:
    """The documented reason for a garbage value in a CSV numeric field ("positive", "non-negative" or None)."""
    if value == "NaN":
        return f"{name} is not a number"
    if value in ("inf", "-inf", "1e400"):
        return f"{name} is not a finite number"
    return {"positive": f"{name} is not positive", "non-negative": f"{name} is negative"}[bound]


def utc_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(sep=" ")


def count_non_finite(conn: psycopg.Connection, table: str, columns: list[str]) -> int:
    test = " or ".join(f"{c} in ('infinity', '-infinity', 'NaN')" for c in columns)
    return conn.execute(f"select count(*) from {table} where {test}").fetchone()[0]


# -- finite and in range ---------------------------------------------------------------


def test_garbage_in_any_number_of_a_trades_archive_is_rejected_and_good_rows_load(tmp_path, conn):
    good = make_trades(DAY, 20, first_id=100)
    fields = {"price": (1, "price", "positive"), "qty": (2, "quantity", "positive"),
              "quote_qty": (3, "quote quantity", "non-negative")}  # field: (column, name in reasons, range)
    bad = {}
    for n, (index, name, bound) in enumerate(fields.values()):
        for k, value in enumerate(GARBAGE):
            parts = [str(900 + 10 * n + k), "60000.0", "0.5", "30000.0", str(NOON_MS), "True", "True"]
            parts[index] = value
            bad[",".join(parts)] = numeric_reason(name, value, bound)
    bad[f"999,1e200,1e200,1e300,{NOON_MS},True,True"] = "price x quantity is not a finite number"
    lines = [spot_trade_line(t) for t in good[:10]] + list(bad) + [spot_trade_line(t) for t in good[10:]]
    name = ArchiveName("spot", "trades", "BTCUSDT", DAY)
    result = load_archive(conn, tmp_path, name, lines)

    assert (result.rows_loaded, result.rows_rejected) == (20, len(bad))
    assert rejects(conn) == [(11 + i, text, reason) for i, (text, reason) in enumerate(bad.items())]
    count, qty, high = conn.execute("select count(*), sum(qty), max(price) from raw.trades").fetchone()
    assert count == 20 and math.isclose(qty, sum(t.qty for t in good), rel_tol=1e-12)
    assert high == max(float(f"{t.price:.8f}") for t in good)
    assert count_non_finite(conn, "raw.trades", ["price", "qty", "quote_qty"]) == 0


def test_quote_qty_must_be_price_times_qty_within_the_printed_rounding(tmp_path, conn):
    """Tolerance: 1e-6 x price x qty, plus one unit of the last decimal quote_qty is printed with."""
    t = NOON_MS
    accepted = [
        f"1,60000.0,0.5,30000.0,{t},True,True",  # exact
        # 1e-6 x 30000 + 1e-5 (5 decimals printed) = 0.03001 >= 0.02999
        f"2,60000.0,0.5,30000.02999,{t + 1},True,True",
        # 0.00001234 x 12.3456789 = 0.000152345677626, printed with 8 decimals: rounded up (gap 4.3e-9) ...
        f"3,0.00001234,12.3456789,0.00015235,{t + 2},True,True",
        # ... or truncated (gap 5.7e-9): both within 1e-8 + 1e-6 x 0.00015 = 1.015e-8
        f"4,0.00001234,12.3456789,0.00015234,{t + 3},True,True",
        f"5,100.0,2.7,270,{t + 4},True,True",  # an integer print: exact
    ]
    refused = [
        f"6,60000.0,0.5,30000.03100,{t + 5},True,True",  # 0.031 > 0.03001
        f"7,0.00001234,12.3456789,0.00015236,{t + 6},True,True",  # 1.43e-8 > 1.015e-8
        f"8,100.0,2.7,272,{t + 7},True,True",  # 2 > 1e-6 x 270 + 1
        f"9,60000.0,0.5,60000.0,{t + 8},True,True",  # price, not price x qty
        f"10,60000.0,0.5,0,{t + 9},True,True",
    ]
    name = ArchiveName("spot", "trades", "BTCUSDT", DAY)
    result = load_archive(conn, tmp_path, name, accepted + refused)
    assert (result.rows_loaded, result.rows_rejected) == (5, 5)
    assert rejects(conn) == [(6 + i, text, "quote quantity is not price x quantity") for i, text in enumerate(refused)]
    assert [row[0] for row in conn.execute("select trade_id from raw.trades order by trade_id")] == [1, 2, 3, 4, 5]


def test_garbage_in_an_aggregate_trades_archive_is_rejected(tmp_path, conn):
    good = make_trades(DAY, 12, first_id=50)
    bad = {}
    for n, (index, name) in enumerate([(1, "price"), (2, "quantity")]):
        for k, value in enumerate(GARBAGE):
            parts = [str(900 + 10 * n + k), "60000.0", "0.5", "20", "21", str(NOON_MS), "true"]
            parts[index] = value
            bad[",".join(parts)] = numeric_reason(name, value, "positive")
    bad[f"999,1e200,1e200,20,21,{NOON_MS},true"] = "price x quantity is not a finite number"
    bad[f"998,60000.0,0.5,inf,21,{NOON_MS},true"] = "first/last trade id is not an integer"
    name = ArchiveName("um", "aggTrades", "BTCUSDT", DAY)
    result = load_archive(conn, tmp_path, name, [agg_trade_line(t, spot=False) for t in good] + list(bad),
                          header=UM_AGG_HEADER)
    assert (result.rows_loaded, result.rows_rejected) == (12, len(bad))
    # line 1 is the header
    assert rejects(conn) == [(14 + i, text, reason) for i, (text, reason) in enumerate(bad.items())]
    count, qty = conn.execute("select count(*), sum(qty) from raw.agg_trades").fetchone()
    assert count == 12 and math.isclose(qty, sum(t.qty for t in good), rel_tol=1e-12)
    assert count_non_finite(conn, "raw.agg_trades", ["price", "qty"]) == 0


KLINE_FIELDS = {1: ("open", "positive"), 2: ("high", "positive"), 3: ("low", "positive"), 4: ("close", "positive"),
                5: ("volume", "non-negative"), 7: ("quote_volume", "non-negative"),
                9: ("taker_buy_volume", "non-negative"), 10: ("taker_buy_quote_volume", "non-negative")}


def test_garbage_in_any_number_of_a_klines_archive_is_rejected(tmp_path, conn):
    good = make_klines(DAY)[:20]
    # open 100, high 110, low 95, close 99, volume 2, quote_volume 200 (in 95 x 2 .. 110 x 2), 3 trades, taker 1 / 100
    template = [str(NOON_MS), "100.0", "110.0", "95.0", "99.0", "2.0", str(NOON_MS + 59_999), "200.0", "3", "1.0",
                "100.0", "0"]

    def variant(**changes: str) -> str:
        parts = list(template)
        for index, value in changes.items():
            parts[int(index.removeprefix("f"))] = value
        return ",".join(parts)

    bad = {}
    for index, (name, bound) in KLINE_FIELDS.items():
        for value in GARBAGE:
            bad[variant(**{f"f{index}": value})] = numeric_reason(name, value, bound)
    bad[variant(f8="inf")] = "count is not an integer"
    bad[variant(f9="3.0")] = "taker_buy_volume exceeds volume"
    bad[variant(f10="250.0")] = "taker_buy_quote_volume exceeds quote_volume"
    bad[variant(f7="300.0")] = "quote_volume is outside low..high x volume"  # > 110 x 2
    bad[variant(f7="150.0")] = "quote_volume is outside low..high x volume"  # < 95 x 2
    name = ArchiveName("spot", "klines", "BTCUSDT", DAY, "1m")
    result = load_archive(conn, tmp_path, name, [kline_line(k) for k in good[:10]] + list(bad)
                          + [kline_line(k) for k in good[10:]])
    assert (result.rows_loaded, result.rows_rejected) == (20, len(bad))
    assert rejects(conn) == [(11 + i, text, reason) for i, (text, reason) in enumerate(bad.items())]
    count, volume, high = conn.execute("select count(*), sum(volume), max(high) from raw.klines").fetchone()
    assert count == 20 and math.isclose(volume, sum(k.volume for k in good), rel_tol=1e-12)
    assert high == max(k.high for k in good)
    assert count_non_finite(conn, "raw.klines", [name for name, _ in KLINE_FIELDS.values()]) == 0


def receive_ns(time_ms: int) -> int:
    return (time_ms + 5) * 1_000_000  # received 5 ms after the trade


def test_garbage_in_websocket_trade_and_book_ticker_messages_is_rejected(tmp_path, database):
    good_trades = [stream_line(receive_ns(NOON_MS + i), "btcusdt@trade",
                               spot_trade_message(i + 1, NOON_MS + i, "60000.01", "0.5")) for i in range(10)]
    good_quotes = [
        stream_line(receive_ns(NOON_MS + i), "btcusdt@bookTicker",
                    spot_book_ticker_message(1000 + i, "60000.00", "1.5", "60000.10", "2.0"))
        for i in range(10)
    ]

    def trade(**changes) -> str:
        return stream_line(receive_ns(NOON_MS), "btcusdt@trade",
                           {**spot_trade_message(500, NOON_MS, "60000.01", "0.5"), **changes})

    def quote(**changes) -> str:
        return stream_line(receive_ns(NOON_MS), "btcusdt@bookTicker",
                           {**spot_book_ticker_message(5000, "60000.00", "1.5", "60000.10", "2.0"), **changes})

    bad = {}
    for key, name, word in [("p", "price", "price"), ("q", "quantity", "quantity")]:
        for value in GARBAGE:
            not_finite = f"{name} {key} '{value}' is not a finite number"
            bad[trade(**{key: value})] = f"{word} {value} is not positive" if value == "-50" else not_finite
    bad[trade(p=float("inf"))] = "price p inf is not a finite number"  # the JSON literal Infinity
    bad[trade(p="1e200", q="1e200")] = "price x quantity (1e200 x 1e200) is not a finite number"
    bad[trade(t=2**63)] = "trade id t 9223372036854775808 is outside the 64-bit integer range"
    for key, name in [("b", "bid price"), ("B", "bid size"), ("a", "ask price"), ("A", "ask size")]:
        for value in GARBAGE:
            if value == "-50":
                reason = "bid or ask price is not positive" if "price" in name else "bid or ask size is negative"
            else:
                reason = f"{name} {key} '{value}' is not a finite number"
            bad[quote(**{key: value})] = reason
    bad[quote(u=2**64)] = "update id u 18446744073709551616 is outside the 64-bit integer range"
    lines = good_trades[:5] + list(bad) + good_quotes + good_trades[5:]
    path = write_gzip_lines(tmp_path / "spot_btcusdt_garbage.gz", lines)
    with database.connect(autocommit=True) as conn:
        [outcome] = ingest_recordings(conn, FileRequest(files=[path]))
        assert (outcome.status, outcome.result.rows_loaded, outcome.result.rows_rejected) == ("loaded", 20, len(bad))
        assert rejects(conn) == [(6 + i, text, reason) for i, (text, reason) in enumerate(bad.items())]
        trades = conn.execute("select count(*), sum(qty), max(quote_qty) from raw.trades").fetchone()
        assert trades == (10, 5.0, 30000.005)  # 60000.01 x 0.5
        assert conn.execute("select count(*), max(bid_price) from raw.l1_quotes").fetchone() == (10, 60000.0)
        assert count_non_finite(conn, "raw.trades", ["price", "qty", "quote_qty"]) == 0
        assert count_non_finite(conn, "raw.l1_quotes", ["bid_price", "bid_qty", "ask_price", "ask_qty"]) == 0


TARDIS_FIELDS = {5: ("strike_price", "positive"), 7: ("open_interest", "non-negative"),
                 15: ("mark_price", "non-negative"), 16: ("mark_iv", "non-negative"),
                 18: ("underlying_price", "positive"), 19: ("delta", None), 20: ("gamma", None), 21: ("vega", None)}


def test_garbage_in_any_number_of_a_tardis_chain_is_rejected(tmp_path, conn):
    rows = chain_rows(30)
    good = [tardis_line(r) for r in rows]
    template = good[0].split(",")
    bad = {}
    for index, (name, bound) in TARDIS_FIELDS.items():
        for value in GARBAGE:
            if value == "-50" and bound is None:
                continue  # Greeks may be negative: only required finite
            fields = list(template)
            fields[index] = value
            bad[",".join(fields)] = numeric_reason(name, value, bound)
    path = tmp_path / "deribit_options_chain_2020-06-08_OPTIONS.csv"
    path.write_text("\n".join([TARDIS_HEADER, *good[:10], *bad, *good[10:]]) + "\n")
    [outcome] = ingest_options(conn, FileRequest(files=[path]))
    assert (outcome.status, outcome.result.rows_loaded, outcome.result.rows_rejected) == ("loaded", 30, len(bad))
    assert rejects(conn) == [(12 + i, text, reason) for i, (text, reason) in enumerate(bad.items())]
    count, strike = conn.execute("select count(*), max(strike) from raw.options_chain").fetchone()
    assert (count, strike) == (30, max(r["strike"] for r in rows))
    columns = ["strike", "open_interest", "mark_price", "mark_iv", "underlying_price", "delta", "gamma", "vega"]
    assert count_non_finite(conn, "raw.options_chain", columns) == 0


@pytest.mark.slow
def test_a_candle_built_from_an_archive_with_infinite_prices_is_finite(tmp_path, database):
    good = make_trades(DAY, 300, first_id=1)
    bad = [f"900,inf,0.5,30000.0,{NOON_MS},False,True", f"901,1e400,0.5,30000.0,{NOON_MS + 1},False,True",
           f"902,60000.0,0.5,inf,{NOON_MS + 2},False,True", f"903,1e200,1e200,1e300,{NOON_MS + 3},False,True"]
    with database.connect(autocommit=True) as conn:
        name = ArchiveName("spot", "trades", "BTCUSDT", DAY)
        load_archive(conn, tmp_path, name, [spot_trade_line(t) for t in good] + bad)
    result = invoke_dbt(["run", "--select", "+candles_1d", "--target-path", str(tmp_path / "dbt")])
    assert result.success, result.exception
    with database.connect() as conn:
        non_finite = count_non_finite(conn, "candles.candles_5m", ["open", "high", "low", "close", "volume", "vwap"])
        assert non_finite == 0
        high, volume, vwap = conn.execute(
            "select high, volume, vwap from candles.candles_1d where bucket_start_at = '2024-06-01 00:00+00'"
        ).fetchone()
    prices = [float(f"{t.price:.8f}") for t in good]
    quotes = [float(f"{t.quote_qty:.8f}") for t in good]
    assert high == max(prices)
    assert math.isclose(volume, sum(t.qty for t in good), rel_tol=1e-12)
    assert math.isclose(vwap, sum(quotes) / sum(t.qty for t in good), rel_tol=1e-12)


# -- the database's own checks ---------------------------------------------------------

INSERTS = {
    "raw.trades": "insert into raw.trades values ('x', 'spot', 'S', 1, '2024-06-03', {v}, 1, 1, false)",
    "raw.agg_trades": "insert into raw.agg_trades values ('x', 'spot', 'S', 1, '2024-06-03', {v}, 1, 1, 1, false)",
    "raw.l1_quotes": "insert into raw.l1_quotes values ('x', 'spot', 'S', 1, '2024-06-03', {v}, 1, 2, 1)",
    "raw.depth_bands": "insert into raw.depth_bands values ('x', 'spot', 'S', '2024-06-03', 'bid', 1, {v}, 1)",
    "raw.options_chain": "insert into raw.options_chain values"
    " ('x', 'BTC', 'BTC-1', '2024-06-03', '2024-06-30', 100, 'call', 1, 0.1, 50, 0.5, {v}, 1, 100, 1)",
    "raw.klines": "insert into raw.klines values ('x', 'spot', 'S', '1d', '2024-06-03', '2024-06-04', {v}, 2, 1, 1,"
    " 1, 1, 1, 0, 0)",
    "raw.futures_metrics": "insert into raw.futures_metrics values ('x', 'um', 'S', '2024-06-03', 1, 1, 1, {v}, 1, 1)",
    "raw.funding_rates": "insert into raw.funding_rates values ('x', 'um', 'S', '2024-06-03', 8, {v} - 0.5)",
}


PARTITIONED = {"raw.trades", "raw.agg_trades", "raw.l1_quotes", "raw.depth_bands", "raw.options_chain"}


@pytest.mark.parametrize("table", sorted(INSERTS))
def test_the_database_refuses_non_finite_numbers_in_every_raw_table(database, table):
    with database.connect(autocommit=True) as conn:
        if table in PARTITIONED:
            conn.execute("select raw.ensure_week_partitions(%s::regclass, '2024-06-03', '2024-06-04')", (table,))
        with conn.transaction(force_rollback=True):
            conn.execute(INSERTS[table].format(v=1))  # the row itself is valid
        for value in ("'infinity'", "'-infinity'", "'NaN'"):
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute(INSERTS[table].format(v=value))


FINITE_CONSTRAINTS = {
    "raw.trades": "trades_finite_values", "raw.agg_trades": "agg_trades_finite_values",
    "raw.l1_quotes": "l1_quotes_finite_values", "raw.depth_bands": "depth_bands_finite_values",
    "raw.options_chain": "options_chain_finite_values", "raw.klines": "klines_finite_values",
}


def test_the_migration_keeps_working_on_a_warehouse_that_already_holds_infinity(database):
    """Rows stored before the checks existed: the migration succeeds, that table's constraint stays NOT VALID."""
    with database.connect(autocommit=True) as conn:
        for table, constraint in FINITE_CONSTRAINTS.items():  # back to the warehouse before 0007
            conn.execute(f"alter table {table} drop constraint {constraint}")
        conn.execute("delete from raw.schema_migrations where version = '0007_finite_values'")
        conn.execute("select raw.ensure_week_partitions('raw.trades', '2024-06-03', '2024-06-04')")
        conn.execute(INSERTS["raw.trades"].format(v="'infinity'"))

        assert migrate(conn) == ["0007_finite_values"]
        validated = dict(conn.execute(
            "select conrelid::regclass::text, convalidated from pg_constraint where conname = any(%s)"
            " and conrelid::regclass::text = any(%s)", (list(FINITE_CONSTRAINTS.values()), list(FINITE_CONSTRAINTS))
        ).fetchall())
        assert validated == {table: table != "raw.trades" for table in FINITE_CONSTRAINTS}
        assert conn.execute("select count(*) from raw.trades where price = 'infinity'").fetchone()[0] == 1
        with pytest.raises(psycopg.errors.CheckViolation):  # new rows are checked all the same
            conn.execute(INSERTS["raw.trades"].replace("'S', 1,", "'S', 2,").format(v="'infinity'"))


# -- one version per exchange id -------------------------------------------------------


def changed(trade: Trade, **fields) -> Trade:
    return Trade(**{**trade.__dict__, **fields})


def test_a_repeated_trade_id_is_rejected_at_another_time_or_price_in_one_file_and_across_files(tmp_path, conn):
    day1 = make_trades(DAY, 20, first_id=100)  # ids 100..119
    by_id = {t.trade_id: t for t in day1}
    later = changed(by_id[102], time=by_id[102].time + 3)  # same values, another time
    fresh = Trade(121, 61_000.5, 0.25, NOON_MS + 7, False)
    lines = [spot_trade_line(t) for t in day1] + [
        spot_trade_line(later),  # 21: chunk 3, id stored by chunk 1
        spot_trade_line(by_id[112]),  # 22: exact repeat of line 13: a duplicate
        spot_trade_line(fresh),  # 23: new
        spot_trade_line(changed(fresh, price=61_000.75)),  # 24: same id and time, another price, same chunk
        spot_trade_line(fresh),  # 25: exact repeat of line 23: a duplicate
        spot_trade_line(changed(by_id[115], qty=0.5)),  # 26: same time as stored, another quantity
    ]
    first = ArchiveName("spot", "trades", "BTCUSDT", DAY)
    result = load_archive(conn, tmp_path, first, lines, chunk_rows=10)
    assert (result.rows_loaded, result.rows_rejected, result.rows_duplicate) == (21, 3, 2)
    price_102 = float(f"{by_id[102].price:.8f}")
    assert rejects(conn) == [
        (21, lines[20], f"trade id 102 conflicts with the stored row: ts {utc_text(later.time)}"
                        f" (stored {utc_text(by_id[102].time)})"),
        (24, lines[23], "trade id 121 conflicts with an earlier row: price 61000.75 (earlier 61000.5),"
                        " quote_qty 15250.1875 (earlier 15250.125)"),
        (26, lines[25], f"trade id 115 conflicts with the stored row: qty 0.5 (stored {by_id[115].qty!r}),"
                        f" quote_qty {float(f'{changed(by_id[115], qty=0.5).quote_qty:.8f}')!r}"
                        f" (stored {float(f'{by_id[115].quote_qty:.8f}')!r})"),
    ]
    stored = conn.execute(
        "select trade_id, (extract(epoch from ts) * 1000)::bigint, price, qty from raw.trades"
        " where trade_id in (102, 115, 121) order by trade_id"
    ).fetchall()
    assert stored == [(102, by_id[102].time, price_102, by_id[102].qty),
                      (115, by_id[115].time, float(f"{by_id[115].price:.8f}"), by_id[115].qty),
                      (121, fresh.time, 61_000.5, 0.25)]

    # The next day's archive repeats id 107 at noon of its own day: rejected against yesterday's row.
    day2 = make_trades(NEXT_DAY, 5, first_id=200)
    again = changed(by_id[107], time=NOON_MS + 86_400_000)
    second = ArchiveName("spot", "trades", "BTCUSDT", NEXT_DAY)
    result = load_archive(conn, tmp_path, second, [spot_trade_line(t) for t in day2] + [spot_trade_line(again)])
    assert (result.rows_loaded, result.rows_rejected, result.rows_duplicate) == (5, 1, 0)
    assert rejects(conn, second.relative_path) == [
        (6, spot_trade_line(again), f"trade id 107 conflicts with the stored row: ts 2024-06-02 12:00:00+00:00"
                                    f" (stored {utc_text(by_id[107].time)})"),
    ]
    assert conn.execute("select count(*) from raw.trades where trade_id = 107").fetchone()[0] == 1


def test_a_recording_repeating_archived_trades_adds_the_equal_ones_as_duplicates_and_rejects_the_others(tmp_path, conn):
    archived = make_trades(DAY, 10, first_id=100)
    load_archive(conn, tmp_path, ArchiveName("spot", "trades", "BTCUSDT", DAY), [spot_trade_line(t) for t in archived])
    same, other = archived[3], archived[4]

    def message(t: Trade, price: float) -> str:
        data = spot_trade_message(t.trade_id, t.time, f"{price:.8f}", f"{t.qty:.8f}", maker=t.is_buyer_maker)
        return stream_line(receive_ns(t.time), "btcusdt@trade", data)

    lines = [message(same, same.price), message(other, other.price + 1)]
    path = write_gzip_lines(tmp_path / "spot_btcusdt_overlap.gz", lines)
    [outcome] = ingest_recordings(conn, FileRequest(files=[path]))
    assert (outcome.result.rows_loaded, outcome.result.rows_rejected, outcome.result.rows_duplicate) == (0, 1, 1)
    stored_price = float(f"{other.price:.8f}")
    new_price = float(f"{other.price + 1:.8f}")
    new_quote, stored_quote = round(new_price * other.qty, 8), float(f"{other.quote_qty:.8f}")
    assert rejects(conn) == [
        (2, lines[1], f"trade id {other.trade_id} conflicts with the stored row: price {new_price!r}"
                      f" (stored {stored_price!r}), quote_qty {new_quote!r} (stored {stored_quote!r})"),
    ]
    assert conn.execute("select count(*), sum(price) from raw.trades").fetchone() == (
        10, pytest.approx(sum(float(f"{t.price:.8f}") for t in archived), rel=1e-12))


def test_a_repeated_book_update_id_is_rejected_unless_it_is_the_same_update(tmp_path, conn):
    first = [stream_line(receive_ns(NOON_MS + i), "btcusdt@bookTicker",
                         spot_book_ticker_message(7000 + i, "60000.00", "1.5", "60000.10", "2.0")) for i in range(3)]
    path_a = write_gzip_lines(tmp_path / "spot_btcusdt_a.gz", first)
    [loaded] = ingest_recordings(conn, FileRequest(files=[path_a]))
    assert loaded.result.rows_loaded == 3
    repeat = [
        first[0],  # the same update, received at the same time: a duplicate
        stream_line(receive_ns(NOON_MS + 1), "btcusdt@bookTicker",
                    spot_book_ticker_message(7001, "59999.90", "1.5", "60000.10", "2.0")),  # another bid
        stream_line(receive_ns(NOON_MS + 40), "btcusdt@bookTicker",
                    spot_book_ticker_message(7002, "60000.00", "1.5", "60000.10", "2.0")),  # received at another time
    ]
    path_b = write_gzip_lines(tmp_path / "spot_btcusdt_b.gz", repeat)
    [outcome] = ingest_recordings(conn, FileRequest(files=[path_b]))
    assert (outcome.result.rows_loaded, outcome.result.rows_rejected, outcome.result.rows_duplicate) == (0, 2, 1)
    # spot bookTicker rows carry the local receive time: NOON_MS + i + 5 ms
    assert rejects(conn, path_b.name) == [
        (2, repeat[1], "update id 7001 conflicts with the stored row: bid_price 59999.9 (stored 60000.0)"),
        (3, repeat[2], "update id 7002 conflicts with the stored row: ts 2024-06-01 12:00:00.045000+00:00"
                       " (stored 2024-06-01 12:00:00.007000+00:00)"),
    ]
    assert conn.execute("select count(*) from raw.l1_quotes").fetchone()[0] == 3


def test_a_repeated_aggregate_trade_id_in_one_file_is_rejected(tmp_path, conn):
    good = make_trades(DAY, 5, first_id=10)
    repeat = changed(good[2], time=good[2].time + 1)
    lines = [agg_trade_line(t, spot=False) for t in good] + [agg_trade_line(repeat, spot=False),
                                                             agg_trade_line(good[3], spot=False)]
    result = load_archive(conn, tmp_path, ArchiveName("um", "aggTrades", "BTCUSDT", DAY), lines, header=UM_AGG_HEADER)
    assert (result.rows_loaded, result.rows_rejected, result.rows_duplicate) == (5, 1, 1)
    assert rejects(conn) == [
        (7, lines[5], f"aggregate trade id 12 conflicts with an earlier row: ts {utc_text(repeat.time)}"
                      f" (earlier {utc_text(good[2].time)})"),
    ]
