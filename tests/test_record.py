"""`sniper record` against the real parts: the installed CLI as a child process (real signals),
a real websocket server on 127.0.0.1 replaying the real captures (tests/replay_server.py,
timing compressed), the real PostgreSQL of the session, and real dbt for the candles.

Expected rows come from elsewhere: `sniper ingest recording` of the same capture file,
loaded into another database. The replay moves the captures' times to now by a whole
number of 5-minute buckets (``shift_ms``): a live row's stored time minus the shift is
the capture's time.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from psycopg.rows import dict_row

from sniper.db.scratch import create_scratch_database, drop_scratch_database
from tests import conftest
from tests.conftest import REALDATA, SNIPER, run_cli
from tests.replay_server import Incident, ReplayServer, read_captures

CAPTURES = REALDATA / "binance-websocket"
UM_0718, UM_0719 = CAPTURES / "usdm_btcusdt_20240718.gz", CAPTURES / "usdm_btcusdt_20240719.gz"
SPOT = {(symbol, day): CAPTURES / f"spot_{symbol}_2024080{day}.gz" for symbol in ("btcusdt", "ethusdt") for day in (8, 9)}
TRADE_COLUMNS = "exchange, market, symbol, trade_id, ts, price, qty, quote_qty, is_buyer_maker"
QUOTE_COLUMNS = "exchange, market, symbol, update_id, ts, bid_price, bid_qty, ask_price, ask_qty"
NS = 1_000_000_000


@dataclass(frozen=True)
class Stopped:
    returncode: int
    seconds: float
    stdout: str
    stderr: str


class Recorder:
    """A running `sniper record` child process (one a failed test left running is killed)."""

    running: list[Recorder] = []

    def __init__(self, url: str, market: str, symbols: str, *options: str) -> None:
        command = [str(SNIPER), "record", "--market", market, "--symbols", symbols, "--url", url, *options]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
        )
        Recorder.running.append(self)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 10) -> Stopped:
        started = time.monotonic()
        self.process.send_signal(signum)
        try:
            stdout, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            stdout, stderr = self.process.communicate()
            pytest.fail(f"sniper record did not stop within {timeout} s of {signal.Signals(signum).name}: {stderr}")
        return Stopped(self.process.returncode, time.monotonic() - started, stdout, stderr)

    def kill(self) -> None:
        self.process.kill()
        self.process.communicate()


@pytest.fixture(autouse=True)
def no_recorder_left_running() -> Iterator[None]:
    yield
    while Recorder.running:
        recorder = Recorder.running.pop()
        if recorder.process.poll() is None:
            recorder.kill()


@pytest.fixture
def other_database(pg_cluster) -> Iterator["conftest.TestDatabase"]:
    """A second database, for what `sniper ingest recording` makes of the same capture."""
    name, url = create_scratch_database(pg_cluster, "ref")
    yield conftest.TestDatabase(name=name, url=url, cluster=pg_cluster)
    drop_scratch_database(pg_cluster, name)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def committed_messages(database: "conftest.TestDatabase") -> int:
    return database.scalar("select coalesce(sum(messages), 0)::bigint from raw.recording_spans")


def spans(database: "conftest.TestDatabase") -> list[dict]:
    """The spans with their ledger rows, per symbol in time order (NULL is None)."""
    with database.connect(row_factory=dict_row) as conn:
        return conn.execute(
            "select s.*, l.first_ts as ledger_first_ts, l.last_ts as ledger_last_ts, l.data_kind, l.source_kind,"
            " l.rows_loaded, l.detail ->> 'end_reason' as ledger_end_reason"
            " from raw.recording_spans as s inner join raw.load_ledger as l using (load_id)"
            " order by s.symbol, s.connected_at"
        ).fetchall()


def rows(database: "conftest.TestDatabase", table: str, columns: str, *, shift_ms: int = 0, where: str = "true", params=()):
    """A table's rows in capture time (the replay's shift taken off), in key order."""
    shifted = columns.replace("ts", f"ts - {int(shift_ms)} * interval '1 millisecond' as ts")
    key = "symbol, trade_id" if table == "raw.trades" else "symbol, update_id"
    return database.rows(f"select {shifted} from {table} where {where} order by {key}", params)  # noqa: S608


def load_with_the_loader(database: "conftest.TestDatabase", *files: Path) -> None:
    loaded = run_cli("ingest", "recording", *map(str, files), env={"SNIPER_DATABASE_URL": database.url})
    assert loaded.returncode == 0, loaded.stderr[-2000:]


def write_capture(path: Path, files: list[Path], first_ns: int, last_ns: int) -> Path:
    """The captures' lines received in [first_ns, last_ns], verbatim and in receive order, as one gzip capture."""
    lines = []
    for file in files:
        with gzip.open(file, "rt") as capture:
            lines += [line for line in capture if first_ns <= int(line.partition(" ")[0]) <= last_ns]
    lines.sort(key=lambda line: int(line.partition(" ")[0]))
    with gzip.open(path, "wt") as out:
        out.writelines(lines)
    return path


def record_all(server: ReplayServer, database: "conftest.TestDatabase", market: str, symbols: str, *options: str) -> Stopped:
    """Record the whole replay, wait until what was received is committed, then SIGTERM.

    Without incidents every message sent is received. A connection the recorder closes
    itself (an error frame, a stall) may leave messages the server sent on the wire, in
    the gap: then the count committed stops short of the count sent.
    """
    recorder = Recorder(server.url, market, symbols, *options)
    server.wait(lambda stats: stats.finished, timeout=120)
    last_change = {"count": -1, "at": time.monotonic()}

    def settled() -> bool:
        count = committed_messages(database)
        if count != last_change["count"]:
            last_change.update(count=count, at=time.monotonic())
        # Batches commit every second: no change for 3 s means nothing more is coming.
        return count >= server.stats.sent or time.monotonic() - last_change["at"] > 3

    wait_for(settled, 60, "the last batch to commit")
    return recorder.stop()


def test_rows_written_live_equal_the_rows_the_loader_reads_from_the_same_capture(database, other_database):
    with ReplayServer(read_captures([UM_0718]), speed=40) as server:
        stopped = record_all(server, database, "um", "BTCUSDT")
    assert stopped.returncode == 0, stopped.stderr
    load_with_the_loader(other_database, UM_0718)

    live_trades = rows(database, "raw.trades", TRADE_COLUMNS, shift_ms=server.shift_ms)
    live_quotes = rows(database, "raw.l1_quotes", QUOTE_COLUMNS, shift_ms=server.shift_ms)
    assert (len(live_trades), len(live_quotes)) == (974, 7_113)  # tests/data/realdata/README.md
    assert live_trades == rows(other_database, "raw.trades", TRADE_COLUMNS)
    assert live_quotes == rows(other_database, "raw.l1_quotes", QUOTE_COLUMNS)

    # One span; its covered interval, by hand from the loaded rows: from the later of the two
    # streams' first rows to the earlier of their last (futures quotes carry exchange time too).
    (span,) = spans(database)
    trades_from, trades_until, quotes_from, quotes_until = other_database.rows(
        "select (select min(ts) from raw.trades), (select max(ts) from raw.trades),"
        " (select min(ts) from raw.l1_quotes), (select max(ts) from raw.l1_quotes)"
    )[0]
    shift = timedelta(milliseconds=server.shift_ms)
    assert (span["first_ts"] - shift, span["last_ts"] - shift) == (
        max(trades_from, quotes_from), min(trades_until, quotes_until)
    )
    assert (span["ledger_first_ts"], span["ledger_last_ts"]) == (span["first_ts"], span["last_ts"])
    assert (span["source_kind"], span["data_kind"], span["end_reason"]) == ("live", "trade+bookTicker", "sigterm")
    assert span["messages"] == span["trades"] + span["quotes"] == span["rows_loaded"] == 8_087


def test_two_spot_symbols_on_one_connection_each_get_their_span_and_rows(database, other_database, tmp_path):
    files = [SPOT["btcusdt", 8], SPOT["ethusdt", 8]]
    first_ns = min(int(gzip.open(file, "rt").readline().partition(" ")[0]) for file in files)
    capture = write_capture(tmp_path / "spot_first_minute.gz", files, first_ns, first_ns + 60 * NS)
    before = datetime.now(UTC)
    with ReplayServer(read_captures([capture]), speed=20) as server:
        stopped = record_all(server, database, "spot", "BTCUSDT,ETHUSDT")
    after = datetime.now(UTC)
    assert stopped.returncode == 0, stopped.stderr
    load_with_the_loader(other_database, capture)

    assert rows(database, "raw.trades", TRADE_COLUMNS, shift_ms=server.shift_ms) == rows(
        other_database, "raw.trades", TRADE_COLUMNS
    )
    # A spot bookTicker has no time of its own: its ts is the receive time, the recorder's
    # clock live, the capture's clock when loaded. Everything else is the same.
    without_ts = QUOTE_COLUMNS.replace(" ts,", "")
    assert rows(database, "raw.l1_quotes", without_ts) == rows(other_database, "raw.l1_quotes", without_ts)
    assert database.scalar("select bool_and(ts between %s and %s) from raw.l1_quotes", (before, after))

    recorded = spans(database)
    assert [span["symbol"] for span in recorded] == ["BTCUSDT", "ETHUSDT"]
    assert len({span["connection"] for span in recorded}) == 1
    for span in recorded:
        trades_of_symbol = other_database.rows(
            "select min(ts), max(ts), count(*) from raw.trades where symbol = %s", (span["symbol"],)
        )[0]
        quotes_of_symbol = other_database.scalar("select count(*) from raw.l1_quotes where symbol = %s", (span["symbol"],))
        # Spot: only the exchange-stamped trades make the covered interval.
        shift = timedelta(milliseconds=server.shift_ms)
        assert (span["first_ts"] - shift, span["last_ts"] - shift) == trades_of_symbol[:2]
        assert (span["trades"], span["quotes"]) == (trades_of_symbol[2], quotes_of_symbol)
        assert span["messages"] == span["trades"] + span["quotes"]


@pytest.mark.slow
def test_a_disconnect_leaves_a_gap_whose_bucket_is_incomplete(database, tmp_path):
    """Spot BTCUSDT 2024-08-08 23:54:58 .. 2024-08-09 00:05:04 (capture time), the server
    dropping every connection at 00:01:00: the 23:55 bucket lies inside the first span, the
    00:00 bucket would be covered by the two spans but for the gap between them."""
    start_ns = int(datetime(2024, 8, 8, 23, 54, 58, tzinfo=UTC).timestamp()) * NS
    files = [SPOT["btcusdt", 8], SPOT["btcusdt", 9]]
    capture = write_capture(tmp_path / "spot_btc_10min.gz", files, start_ns, start_ns + 700 * NS)
    messages = read_captures([capture])
    drop_ms = (int(datetime(2024, 8, 9, 0, 1, tzinfo=UTC).timestamp()) * NS - messages[0].receive_ns) // 1_000_000
    with ReplayServer(messages, speed=40, incidents=(Incident(drop_ms, "drop"),)) as server:
        stopped = record_all(server, database, "spot", "BTCUSDT")
    assert stopped.returncode == 0, stopped.stderr
    shift = timedelta(milliseconds=server.shift_ms)

    first, second = spans(database)
    assert (first["end_reason"], second["end_reason"]) == ("server closed", "sigterm")
    for span in (first, second):
        assert (span["ledger_first_ts"], span["ledger_last_ts"]) == (span["first_ts"], span["last_ts"])
        assert span["ledger_end_reason"] == span["end_reason"]
    # The gap: longer than the 1 s within which dbt merges spans (coverage_merge_gap_seconds).
    assert second["first_ts"] - first["last_ts"] > timedelta(seconds=1)
    bucket_2355 = datetime(2024, 8, 8, 23, 55, tzinfo=UTC) + shift
    bucket_0000 = datetime(2024, 8, 9, 0, 0, tzinfo=UTC) + shift
    assert first["first_ts"] <= bucket_2355 and bucket_0000 < first["last_ts"]
    assert second["first_ts"] < bucket_0000 + timedelta(minutes=5) <= second["last_ts"]

    window = (bucket_2355 - timedelta(days=1)).date().isoformat()
    built = run_cli(
        "dbt", "build", "--select", "+candles_5m",
        "--vars", f'{{"window_start": "{window}", "window_days": 3}}',
    )
    assert built.returncode == 0, built.stdout[-3000:]
    complete = dict(database.rows("select bucket_start_at, is_complete from candles.candles_5m where symbol = 'BTCUSDT'"))
    assert complete[bucket_2355] is True
    assert complete[bucket_0000] is False
    # Every bucket with a recorded trade is there, with all its trades (counted from raw.trades).
    expected = dict(database.rows(
        "select to_timestamp(floor(extract(epoch from ts) / 300) * 300), count(*) from raw.trades group by 1"
    ))
    assert dict(database.rows("select bucket_start_at, trade_count from candles.candles_5m")) == expected


def test_drops_error_frames_and_stalls_each_end_a_span_and_the_recorder_reconnects(database):
    incidents = (Incident(40_000, "drop"), Incident(80_000, "error"), Incident(120_000, "stall", seconds=4))
    with ReplayServer(read_captures([UM_0718]), speed=40, incidents=incidents) as server:
        stopped = record_all(server, database, "um", "BTCUSDT", "--stall-seconds", "1.5")
    assert stopped.returncode == 0, stopped.stderr
    recorded = spans(database)
    reasons = [span["end_reason"] for span in recorded]
    stall = "stall: no message for 1.5 s"
    # A stall can also be a moment the machine was too busy to send, or the silence after
    # the replay's end (then SIGTERM may find the recorder between connections): only the
    # order of the others is certain, and the server's 4 s silence after the error frame.
    error = "error: Invalid request: stream not available"
    others = [reason for reason in reasons if reason != stall]
    assert others[:2] == ["server closed", error] and others[2:] in ([], ["sigterm"]), reasons
    assert stall in reasons[reasons.index(error):], reasons
    assert server.stats.connections == len(recorded)
    for earlier, later in zip(recorded, recorded[1:]):
        assert earlier["disconnected_at"] <= later["connected_at"]
    covering = [span for span in recorded if span["first_ts"] is not None]  # a span in the silence has none
    for earlier, later in zip(covering, covering[1:]):
        assert earlier["last_ts"] < later["first_ts"]
    for span in recorded:
        assert span["messages"] == span["trades"] + span["quotes"]
        assert span["ledger_end_reason"] == span["end_reason"]


def test_sigterm_flushes_closes_the_span_and_exits_0(database):
    with ReplayServer(read_captures([UM_0719]), speed=10) as server:
        recorder = Recorder(server.url, "um", "BTCUSDT")
        wait_for(lambda: committed_messages(database) > 2_000, 60, "the first batches to commit")
        stopped = recorder.stop(signal.SIGTERM)
    assert stopped.returncode == 0 and stopped.seconds < 10
    assert stopped.stderr == "" and "stopped by sigterm" in stopped.stdout
    (span,) = spans(database)
    assert span["end_reason"] == "sigterm" and span["disconnected_at"] is not None
    # Whatever it had received went in before it exited: every message counted is a row.
    assert span["messages"] == span["trades"] + span["quotes"]
    assert (span["trades"], span["quotes"]) == (
        database.scalar("select count(*) from raw.trades"), database.scalar("select count(*) from raw.l1_quotes")
    )


def test_sigint_is_a_clean_stop_too(database):
    with ReplayServer(read_captures([UM_0718]), speed=10) as server:
        recorder = Recorder(server.url, "um", "BTCUSDT")
        wait_for(lambda: committed_messages(database) > 100, 60, "the first batch to commit")
        stopped = recorder.stop(signal.SIGINT)
    assert (stopped.returncode, stopped.stderr) == (0, "")
    assert [span["end_reason"] for span in spans(database)] == ["sigint"]


def test_after_kill_9_the_next_start_closes_the_dangling_span_and_nothing_is_written_twice(
    database, other_database
):
    with ReplayServer(read_captures([UM_0719]), speed=15) as server:
        first = Recorder(server.url, "um", "BTCUSDT")
        wait_for(lambda: committed_messages(database) > 5_000, 60, "batches of the first process")
        first.kill()
        (dangling,) = spans(database)
        assert dangling["end_reason"] is None
        second = Recorder(server.url, "um", "BTCUSDT")
        wait_for(lambda: len(spans(database)) == 2 and spans(database)[1]["messages"] > 5_000, 60, "a second span")
        stopped = second.stop()
    assert stopped.returncode == 0, stopped.stderr

    died, resumed = spans(database)
    assert (died["end_reason"], resumed["end_reason"]) == ("process died", "sigterm")
    assert died["disconnected_at"] == died["last_commit_at"]
    assert (died["first_ts"], died["last_ts"]) == (dangling["first_ts"], dangling["last_ts"])
    assert died["ledger_end_reason"] == "process died"
    assert database.scalar("select count(*) from raw.load_ledger") == 2
    assert died["last_ts"] < resumed["first_ts"]  # the time the recorder was down is a gap

    # No row twice, and the union of the two spans' rows is what the capture holds in the
    # time they cover (rows beyond a span's covered end may be there too: a stream ahead of
    # the other; they are capture rows all the same). A span covers [first_ts, last_ts),
    # like a bucket: rows stamped last_ts itself may be cut (several trades share a
    # millisecond, and kill -9 can fall between the batches that hold them; CI at 58d7633).
    load_with_the_loader(other_database, UM_0719)
    assert database.scalar("select count(*) - count(distinct trade_id) from raw.trades") == 0
    assert database.scalar("select count(*) - count(distinct update_id) from raw.l1_quotes") == 0
    for table, columns in (("raw.trades", TRADE_COLUMNS), ("raw.l1_quotes", QUOTE_COLUMNS)):
        live = rows(database, table, columns, shift_ms=server.shift_ms)
        assert set(live) <= set(rows(other_database, table, columns))
        for span in (died, resumed):
            shift = timedelta(milliseconds=server.shift_ms)
            covered = (span["first_ts"] - shift, span["last_ts"] - shift)
            in_span = "ts - %s * interval '1 millisecond' >= %s and ts - %s * interval '1 millisecond' < %s"
            assert rows(database, table, columns, shift_ms=server.shift_ms, where=in_span,
                        params=(server.shift_ms, covered[0], server.shift_ms, covered[1])) == rows(
                other_database, table, columns, where="ts >= %s and ts < %s", params=covered
            )


def test_a_full_buffer_drops_the_connection_and_records_the_gap(database):
    """A buffer of 100 messages fills within a batch at this speed: the recorder stops
    reading, closes the connection ('database too slow'), writes what it holds, reconnects."""
    with ReplayServer(read_captures([UM_0719]), speed=40) as server:
        recorder = Recorder(server.url, "um", "BTCUSDT", "--buffer-messages", "100")
        wait_for(
            lambda: [span["end_reason"] for span in spans(database)][:1] == ["database too slow"]
            and len(spans(database)) >= 2 and spans(database)[-1]["messages"] > 0,
            60, "a span ended by the full buffer, and the next one",
        )
        stopped = recorder.stop()
    assert stopped.returncode == 0, stopped.stderr
    recorded = spans(database)
    reasons = [span["end_reason"] for span in recorded]
    # SIGTERM may find the recorder between two connections: then no span ends 'sigterm'.
    assert set(reasons[:-1]) == {"database too slow"} and reasons[-1] in ("database too slow", "sigterm"), reasons
    # Nothing received was dropped: every message of every span is a row, and no span
    # holds more than the bound.
    assert sum(span["messages"] for span in recorded) == database.scalar(
        "select (select count(*) from raw.trades) + (select count(*) from raw.l1_quotes)"
    )
    assert all(span["messages"] <= 100 for span in recorded[:-1])
    covering = [span for span in recorded if span["first_ts"] is not None]
    for earlier, later in zip(covering, covering[1:]):
        assert earlier["last_ts"] < later["first_ts"]


NOTHING_WRITTEN = ("raw.trades", "raw.l1_quotes", "raw.load_ledger", "raw.load_rejects", "raw.recording_spans")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (("--market", "coinm", "--symbols", "BTCUSDT"), "invalid choice: 'coinm'"),
        (("--market", "um", "--symbols", "btc-usdt"), "invalid symbol 'btc-usdt'"),
        (("--market", "um", "--symbols", " , "), "no symbol given"),
        (("--market", "um", "--symbols", "BTCUSDT,BTCUSDT"), "listed twice"),
        (("--market", "um", "--symbols", "BTCUSDT", "--url", "http://127.0.0.1:9/stream"), "expected ws:// or wss://"),
        (("--market", "um", "--symbols", "BTCUSDT", "--url", "ws://127.0.0.1:99999/stream"), "malformed URL"),
        (("--market", "um", "--symbols", "BTCUSDT", "--url", "ws:///stream"), "no host"),
        (("--market", "um", "--symbols", "BTCUSDT", "--url", "ws://127.0.0.1:1/stream", "--connect-attempts", "2"),
         "cannot connect to ws://127.0.0.1:1/stream after 2 attempts"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(database, options, expected):
    result = run_cli("record", *options, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert expected in result.stderr, result.stderr
    for table in NOTHING_WRITTEN:
        assert database.scalar(f"select count(*) from {table}") == 0, table  # noqa: S608


def test_a_server_that_refuses_the_handshake_is_exit_2(database):
    with ReplayServer(read_captures([UM_0718]), speed=1) as server:
        result = run_cli("record", "--market", "um", "--symbols", "BTCUSDT", "--url",
                         server.url.replace("/stream", "/nowhere"), "--connect-attempts", "1", timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "HTTP 404" in result.stderr, result.stderr
    assert database.scalar("select count(*) from raw.recording_spans") == 0


def test_a_second_recorder_of_the_same_instrument_is_refused(database):
    with ReplayServer(read_captures([UM_0718]), speed=5) as server:
        first = Recorder(server.url, "um", "BTCUSDT")
        wait_for(lambda: committed_messages(database) > 0, 60, "the first recorder to write")
        second = run_cli("record", "--market", "um", "--symbols", "ETHUSDT,BTCUSDT", "--url", server.url, timeout=60)
        stopped = first.stop()
    assert second.returncode == 75 and second.stderr.count("\n") == 1, second.stderr
    assert "another `sniper record` is recording binance um BTCUSDT" in second.stderr
    assert stopped.returncode == 0
    assert [span["end_reason"] for span in spans(database)] == ["sigterm"]


def test_a_database_that_goes_away_stops_the_recorder_with_one_line(database):
    with ReplayServer(read_captures([UM_0719]), speed=10) as server:
        recorder = Recorder(server.url, "um", "BTCUSDT")
        wait_for(lambda: committed_messages(database) > 1_000, 60, "the first batches to commit")
        terminated = database.scalar(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity"
            " where datname = current_database() and pid <> pg_backend_pid()"
        )
        assert terminated == 1  # the recorder's session
        try:
            recorder.process.wait(15)
        except subprocess.TimeoutExpired:
            pytest.fail("the recorder went on without its database")
        stdout, stderr = recorder.process.communicate()
    assert recorder.process.returncode == 2, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert "received messages were not written" in stderr, stderr
    # Its span stays open, ending at the last committed batch: the next start closes it.
    (span,) = spans(database)
    assert span["end_reason"] is None and span["messages"] > 1_000
