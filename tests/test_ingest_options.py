"""Tardis.dev options_chain CSVs into raw.options_chain, gzip or plain, with rejects for bad lines."""

from __future__ import annotations

import gzip
import math
from datetime import datetime, timezone

import pytest

from sniper.ingest.config import FileRequest
from sniper.ingest.local import ingest_options
from tests.ingest_fixtures import TARDIS_HEADER

# The sample row of Tardis's options_chain documentation (Deribit, 2020-06-07 23:59:59.413 UTC).
DOCUMENTED_ROW = (
    "deribit,BTC-9JUN20-9875-P,1591574399413000,1591574400196008,put,9875,1591689600000000,0.1,0.0295,0.0205,"
    "15.0,55.91,0.0235,15.0,68.94,0.02210436,62.89,SYN.BTC-9JUN20,9756.36,-0.61752,0.00103,2.24964,-53.05655,-0.22796"
)
DAY_START_US = 1_591_574_400_000_000  # 2020-06-08 00:00 UTC
EXPIRY_US = 1_593_158_400_000_000  # 2020-06-26 08:00 UTC


def chain_rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        strike = 8_000 + 250 * (i % 16)
        kind = "call" if i % 2 == 0 else "put"
        rows.append(
            {
                "symbol": f"BTC-26JUN20-{strike}-{kind[0].upper()}",
                "timestamp": DAY_START_US + i * 1_000_003,
                "type": kind,
                "strike": strike,
                "open_interest": round(10 + i * 0.7, 1),
                "mark_price": round(0.01 + (i % 7) * 0.003, 4),
                "mark_iv": round(55 + (i % 11) * 0.5, 2),
                "delta": round((0.5 if kind == "call" else -0.5) + (i % 5) * 0.01, 5),
                "underlying_price": round(9_700 + i * 0.5, 2),
                # an option without a mark yet: empty greeks are NULL, not rejects
                "empty_greeks": i % 10 == 9,
            }
        )
    return rows


def tardis_line(row: dict) -> str:
    greeks = ",,," if row["empty_greeks"] else f"{row['delta']},0.0001,2.5,-1.0"  # delta, gamma, vega, theta
    mark_price = "" if row["empty_greeks"] else row["mark_price"]
    mark_iv = "" if row["empty_greeks"] else row["mark_iv"]
    return (
        f"deribit,{row['symbol']},{row['timestamp']},{row['timestamp'] + 700},{row['type']},{row['strike']},"
        f"{EXPIRY_US},{row['open_interest']},,0.01,5.0,50.1,0.02,5.0,60.2,{mark_price},{mark_iv},BTC-26JUN20,"
        f"{row['underlying_price']},{greeks},-0.2"
    )


@pytest.fixture
def conn(database):
    with database.connect(autocommit=True) as connection:
        yield connection


def test_a_gzip_chain_loads_and_matches_the_file(tmp_path, conn):
    rows = chain_rows(200)
    path = tmp_path / "deribit_options_chain_2020-06-08_OPTIONS.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join([TARDIS_HEADER, *map(tardis_line, rows)]) + "\n")
    [outcome] = ingest_options(conn, FileRequest(files=[path], chunk_rows=64))
    assert (outcome.status, outcome.result.rows_loaded, outcome.result.rows_rejected) == ("loaded", 200, 0)

    count, open_interest, underlyings, puts, nulls, mark_iv = conn.execute(
        "select count(*), sum(open_interest), array_agg(distinct underlying), count(*) filter (where option_type = 'put'),"
        " count(*) filter (where delta is null and mark_price is null), sum(mark_iv) from raw.options_chain"
    ).fetchone()
    assert count == 200
    assert math.isclose(open_interest, sum(r["open_interest"] for r in rows), rel_tol=1e-12)
    assert underlyings == ["BTC"]
    assert puts == 100
    assert nulls == sum(r["empty_greeks"] for r in rows)
    assert math.isclose(mark_iv, sum(r["mark_iv"] for r in rows if not r["empty_greeks"]), rel_tol=1e-12)
    first = rows[1]
    stored = conn.execute(
        "select (extract(epoch from ts) * 1e6)::bigint, (extract(epoch from expiry_at) * 1e6)::bigint, strike,"
        " option_type, underlying_price, delta from raw.options_chain where instrument = %s and ts = %s",
        (first["symbol"], datetime.fromtimestamp(first["timestamp"] / 1e6, tz=timezone.utc)),
    ).fetchone()
    assert stored == (first["timestamp"], EXPIRY_US, first["strike"], "put", first["underlying_price"], first["delta"])

    [again] = ingest_options(conn, FileRequest(files=[path]))
    assert again.status == "already loaded"
    assert conn.execute("select count(*) from raw.options_chain").fetchone()[0] == 200


def test_the_documented_sample_row_loads_from_plain_csv(tmp_path, conn):
    path = tmp_path / "deribit_options_chain_2020-06-07_OPTIONS.csv"
    path.write_text(f"{TARDIS_HEADER}\n{DOCUMENTED_ROW}\n")
    [outcome] = ingest_options(conn, FileRequest(files=[path]))
    assert (outcome.status, outcome.result.rows_loaded) == ("loaded", 1)
    row = conn.execute(
        "select exchange, underlying, instrument, ts, expiry_at, strike, option_type, open_interest, mark_price,"
        " mark_iv, delta, gamma, vega, underlying_price from raw.options_chain"
    ).fetchone()
    assert row == (
        "deribit", "BTC", "BTC-9JUN20-9875-P",
        datetime(2020, 6, 7, 23, 59, 59, 413000, tzinfo=timezone.utc),
        datetime(2020, 6, 9, 8, tzinfo=timezone.utc),
        9875.0, "put", 0.1, 0.02210436, 62.89, -0.61752, 0.00103, 2.24964, 9756.36,
    )


def test_bad_lines_are_rejected_and_good_rows_kept(tmp_path, conn):
    rows = chain_rows(30)
    good = [tardis_line(r) for r in rows]
    template = good[0].split(",")

    def variant(**changes) -> str:
        fields = list(template)
        for index, value in changes.items():
            fields[int(index.removeprefix("f"))] = value
        return ",".join(fields)

    bad = {
        "deribit,BTC-26JUN20-8000-C,1": "expected 24 columns, found 3",
        variant(f5="abc"): "strike_price is not a number",
        variant(f7="-3"): "open_interest is negative",
        variant(f2=str(DAY_START_US - 1)): "timestamp is outside 2020-06-08 UTC",
        variant(f4="straddle"): "type is not call or put",
        variant(f15="n/a"): "mark_price is not a number",
        variant(f18="0"): "underlying_price is not positive",
    }
    path = tmp_path / "deribit_options_chain_2020-06-08_OPTIONS.csv"
    path.write_text("\n".join([TARDIS_HEADER, *good[:10], *bad, *good[10:]]) + "\n")
    [outcome] = ingest_options(conn, FileRequest(files=[path]))
    assert (outcome.status, outcome.result.rows_loaded, outcome.result.rows_rejected) == ("loaded", 30, len(bad))
    rejects = conn.execute("select line_number, raw_text, reason from raw.load_rejects order by line_number").fetchall()
    assert rejects == [(12 + i, text, reason) for i, (text, reason) in enumerate(bad.items())]
    count, open_interest = conn.execute("select count(*), sum(open_interest) from raw.options_chain").fetchone()
    assert count == 30 and math.isclose(open_interest, sum(r["open_interest"] for r in rows), rel_tol=1e-12)


def test_a_file_of_another_format_fails_and_loads_nothing(tmp_path, conn):
    trades = tmp_path / "deribit_trades_2020-06-08_BTC-PERPETUAL.csv"
    trades.write_text("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\nderibit,BTC-PERPETUAL,1,2,3,buy,4,5\n")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    outcomes = ingest_options(conn, FileRequest(files=[trades, empty]))
    assert [o.status for o in outcomes] == ["failed", "failed"]
    assert "not a Tardis options_chain CSV" in outcomes[0].message
    assert "empty file" in outcomes[1].message
    assert conn.execute("select count(*) from raw.options_chain").fetchone()[0] == 0
    assert conn.execute("select count(*) from raw.load_ledger").fetchone()[0] == 0


def test_a_different_file_under_a_loaded_name_is_refused(tmp_path, conn):
    rows = chain_rows(20)
    path = tmp_path / "chain.csv"
    path.write_text("\n".join([TARDIS_HEADER, *map(tardis_line, rows[:10])]) + "\n")
    [first] = ingest_options(conn, FileRequest(files=[path]))
    path.write_text("\n".join([TARDIS_HEADER, *map(tardis_line, rows[10:])]) + "\n")
    [second] = ingest_options(conn, FileRequest(files=[path]))
    assert (first.status, second.status) == ("loaded", "failed")
    assert "chain.csv was loaded before with checksum" in second.message
    assert conn.execute("select count(*) from raw.options_chain").fetchone()[0] == 10


def test_a_stray_timestamp_costs_one_partition_not_every_week_between(tmp_path, conn):
    rows = chain_rows(5)
    stray = dict(rows[0], timestamp=rows[0]["timestamp"] + 2 * 365 * 86_400_000_000)  # two years later
    path = tmp_path / "chain-without-a-date.csv"  # no date in the name: no day check
    path.write_text("\n".join([TARDIS_HEADER, *map(tardis_line, rows + [stray])]) + "\n")
    [outcome] = ingest_options(conn, FileRequest(files=[path]))
    assert (outcome.result.rows_loaded, outcome.result.rows_rejected) == (6, 0)
    partitions = conn.execute(
        "select count(*) from pg_inherits where inhparent = 'raw.options_chain'::regclass"
    ).fetchone()[0]
    assert partitions == 2
