"""Recorded Binance websocket streams: the real captures load with zero rejects, bad lines are kept aside."""

from __future__ import annotations

import gzip
import json
import math
import shutil
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sniper.ingest.config import FileRequest
from sniper.ingest.local import ingest_recordings
from tests.conftest import REALDATA
from tests.ingest_fixtures import write_gzip_lines

CAPTURES = sorted((REALDATA / "binance-websocket").glob("*.gz"))


def read_capture(path: Path) -> dict:
    """Independent parse of one capture: what it holds, per kind of message."""
    stats = {"trades": [], "quotes": [], "depth": 0, "snapshot": 0}
    market = "um" if path.name.startswith("usdm") else "spot"
    with gzip.open(path, "rt") as handle:
        for line in handle:
            receive_ns, payload = line.split(" ", 1)
            message = json.loads(payload)
            if "stream" not in message:
                stats["snapshot"] += 1
                continue
            data, channel = message["data"], message["stream"].split("@")[1]
            if channel == "trade":
                stats["trades"].append((data["s"], data["t"], float(data["q"]), data["T"], data["m"]))
            elif channel == "bookTicker":
                ts_us = data["T"] * 1000 if market == "um" else int(receive_ns) // 1000
                stats["quotes"].append((data["s"], data["u"], float(data["B"]), ts_us))
            else:
                stats["depth"] += 1
    return {"market": market, **stats}


@pytest.fixture(scope="module")
def loaded(module_database):
    with module_database.connect(autocommit=True) as conn:
        outcomes = ingest_recordings(conn, FileRequest(files=CAPTURES))
        yield conn, outcomes


def test_the_real_captures_load_with_zero_rejects(loaded):
    conn, outcomes = loaded
    assert len(outcomes) == 7
    assert [(o.status, o.result.rows_rejected) for o in outcomes] == [("loaded", 0)] * 7
    assert conn.execute("select count(*) from raw.load_rejects").fetchone()[0] == 0


def test_trades_and_quotes_match_an_independent_parse(loaded):
    conn, outcomes = loaded
    trades, quotes = defaultdict(list), defaultdict(list)
    for path, outcome in zip(CAPTURES, outcomes):
        capture = read_capture(path)
        assert outcome.result.skipped == {
            kind: capture[kind] for kind in ("depth", "snapshot") if capture[kind]
        }
        detail = conn.execute(
            "select market, detail from raw.load_ledger where source_kind = 'recording' and source = %s", (path.name,)
        ).fetchone()
        assert detail[0] == capture["market"]
        assert detail[1]["rows"] == {"raw.trades": len(capture["trades"]), "raw.l1_quotes": len(capture["quotes"])}
        for symbol, *rest in capture["trades"]:
            trades[(capture["market"], symbol)].append(rest)
        for symbol, *rest in capture["quotes"]:
            quotes[(capture["market"], symbol)].append(rest)

    for (market, symbol), rows in trades.items():
        count, qty, first_id, last_id, sells, first_ts, last_ts = conn.execute(
            "select count(*), sum(qty), min(trade_id), max(trade_id), count(*) filter (where is_buyer_maker),"
            " min(ts), max(ts) from raw.trades where market = %s and symbol = %s",
            (market, symbol),
        ).fetchone()
        assert count == len(rows)
        assert math.isclose(qty, sum(q for _, q, _, _ in rows), rel_tol=1e-12)
        assert (first_id, last_id) == (min(t for t, *_ in rows), max(t for t, *_ in rows))
        assert sells == sum(m for *_, m in rows)
        times = [T for _, _, T, _ in rows]
        assert (first_ts, last_ts) == (
            datetime.fromtimestamp(min(times) / 1000, tz=timezone.utc),
            datetime.fromtimestamp(max(times) / 1000, tz=timezone.utc),
        )
    for (market, symbol), rows in quotes.items():
        count, bid_size, first_us, last_us = conn.execute(
            "select count(*), sum(bid_qty), (extract(epoch from min(ts)) * 1e6)::bigint,"
            " (extract(epoch from max(ts)) * 1e6)::bigint from raw.l1_quotes where market = %s and symbol = %s",
            (market, symbol),
        ).fetchone()
        assert count == len(rows)
        assert math.isclose(bid_size, sum(b for _, b, _ in rows), rel_tol=1e-12)
        # Spot quotes carry the local receive time, futures quotes the exchange's T.
        assert (first_us, last_us) == (min(ts for *_, ts in rows), max(ts for *_, ts in rows))


def test_loading_the_same_captures_again_adds_nothing(loaded, tmp_path):
    conn, _ = loaded
    before = conn.execute("select (select count(*) from raw.trades), (select count(*) from raw.l1_quotes)").fetchone()
    again = ingest_recordings(conn, FileRequest(files=CAPTURES[:2]))
    assert [o.status for o in again] == ["already loaded", "already loaded"]
    # The same bytes under another name are a new ledger entry whose rows are all duplicates.
    renamed = shutil.copyfile(CAPTURES[-1], tmp_path / "copy_of_capture.gz")
    [copy] = ingest_recordings(conn, FileRequest(files=[Path(renamed)]))
    assert copy.status == "loaded" and copy.result.rows_loaded == 0
    capture = read_capture(CAPTURES[-1])
    assert copy.result.rows_duplicate == len(capture["trades"]) + len(capture["quotes"])
    after = conn.execute("select (select count(*) from raw.trades), (select count(*) from raw.l1_quotes)").fetchone()
    assert after == before


def _real_lines(path: Path, channel: str, count: int) -> list[str]:
    lines = []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if f"@{channel}" in line.split(" ", 1)[1][:40]:
                lines.append(line.rstrip("\n"))
                if len(lines) == count:
                    return lines
    return lines


def _edit(line: str, **changes) -> str:
    receive, payload = line.split(" ", 1)
    message = json.loads(payload)
    for key, value in changes.items():
        if value is None:
            message["data"].pop(key)
        else:
            message["data"][key] = value
    return f"{receive} {json.dumps(message, separators=(',', ':'))}"


def test_bad_lines_go_to_rejects_and_good_rows_of_the_file_are_kept(database, tmp_path):
    source = REALDATA / "binance-websocket" / "usdm_btcusdt_20240718.gz"
    good_trades = _real_lines(source, "trade", 40)
    good_quotes = _real_lines(source, "bookTicker", 30)
    depth = _real_lines(source, "depth", 5)
    template = good_trades[0]
    receive = int(template.split(" ", 1)[0])
    bad = {
        _edit(template, s="ETHUSDT"): "symbol mismatch: stream btcusdt carries ETHUSDT",
        f"{receive} {{not json": "not valid JSON",
        "garbage-without-a-receive-time": "expected '<receive time ns> <json>'",
        _edit(template, q="-0.003"): "quantity -0.003 is not positive",
        _edit(template, p="abc"): "price p 'abc' is not a number",
        _edit(template, t=None): "trade id t is missing or not an integer",
        _edit(template, X=None): "spot-format trade message in a um recording",
        _edit(template, T=json.loads(template.split(" ", 1)[1])["data"]["T"] + 7_200_000): "more than an hour",
        _edit(good_quotes[0], B="-1"): "bid or ask size is negative",
    }
    lines = good_trades[:20] + list(bad) + good_quotes + depth + good_trades[20:]
    path = write_gzip_lines(tmp_path / "mixed.gz", lines)
    with database.connect(autocommit=True) as conn:
        [outcome] = ingest_recordings(conn, FileRequest(files=[path]))
        assert outcome.status == "loaded"
        assert outcome.result.rows_rejected == len(bad)
        assert outcome.result.skipped == {"depth": 5}
        rejects = conn.execute("select line_number, raw_text, reason from raw.load_rejects order by line_number").fetchall()
        assert [(n, text) for n, text, _ in rejects] == [(21 + i, text) for i, text in enumerate(bad)]
        for (_, _, reason), expected in zip(rejects, bad.values()):
            assert expected in reason
        expected_qty = sum(float(json.loads(line.split(" ", 1)[1])["data"]["q"]) for line in good_trades)
        count, qty = conn.execute("select count(*), sum(qty) from raw.trades").fetchone()
        assert count == 40 and math.isclose(qty, expected_qty, rel_tol=1e-12)
        assert conn.execute("select count(*) from raw.l1_quotes").fetchone()[0] == 30


def test_files_that_cannot_be_recordings_fail_alone(database, tmp_path):
    eth = REALDATA / "binance-websocket" / "spot_ethusdt_20240808.gz"
    empty = write_gzip_lines(tmp_path / "empty.gz", [])
    truncated = tmp_path / "truncated.gz"
    truncated.write_bytes((REALDATA / "binance-websocket" / "spot_btcusdt_20240809.gz").read_bytes()[:400_000])
    not_a_recording = tmp_path / "notes.txt"
    not_a_recording.write_text("hello\nworld\n")
    with database.connect(autocommit=True) as conn:
        wrong_symbol = ingest_recordings(conn, FileRequest(files=[eth], symbol="BTCUSDT"))
        others = ingest_recordings(conn, FileRequest(files=[empty, truncated, not_a_recording, tmp_path / "absent.gz"]))
        messages = [o.message for o in wrong_symbol + others]
        assert [o.status for o in wrong_symbol + others] == ["failed"] * 5
        assert messages[0] == "spot_ethusdt_20240808.gz: holds ETHUSDT messages, expected BTCUSDT"
        assert messages[1] == "empty.gz: empty recording (no lines)"
        assert messages[2].startswith("truncated.gz: corrupt gzip stream")
        assert "not a Binance stream recording" in messages[3]
        assert messages[4].endswith("absent.gz: no such file")
        counts = conn.execute(
            "select (select count(*) from raw.trades), (select count(*) from raw.l1_quotes),"
            " (select count(*) from raw.load_ledger), (select count(*) from raw.load_failures)"
        ).fetchone()
        assert counts == (0, 0, 0, 5)


def test_plain_text_recording_with_market_given(database, tmp_path):
    source = REALDATA / "binance-websocket" / "spot_btcusdt_20240809.gz"
    plain = tmp_path / "spot_plain.txt"
    lines = _real_lines(source, "trade", 25) + _real_lines(source, "bookTicker", 10)
    plain.write_text("\n".join(lines) + "\n")
    with database.connect(autocommit=True) as conn:
        [outcome] = ingest_recordings(conn, FileRequest(files=[plain], market="spot", symbol="BTCUSDT"))
        assert (outcome.status, outcome.result.rows_loaded, outcome.result.rows_rejected) == ("loaded", 35, 0)
        assert conn.execute("select distinct market, symbol from raw.trades").fetchall() == [("spot", "BTCUSDT")]
