"""`sniper ingest ...` as a user runs it: exit codes, one-line errors, the ledger summary."""

from __future__ import annotations

from datetime import date, timedelta

from sniper.ingest.layout import ArchiveName
from tests.conftest import REALDATA, run_cli
from tests.ingest_fixtures import archive_server, csv_text, make_trades, spot_trade_line, write_archive

WEEK = [date(2024, 6, 1) + timedelta(days=i) for i in range(7)]


def week_args(*extra: str) -> list[str]:
    return ["ingest", "binance", "--market", "spot", "--kind", "trades", "--symbol", "BTCUSDT",
            "--start", "2024-06-01", "--end", "2024-06-08", *extra]


def build_week(root, skip: tuple[date, ...] = (), bad_checksum: tuple[date, ...] = ()) -> int:
    total = 0
    for index, day in enumerate(WEEK):
        if day in skip:
            continue
        trades = make_trades(day, 100 + index, first_id=index * 1_000)
        checksum = "bad" if day in bad_checksum else "good"
        write_archive(root, ArchiveName("spot", "trades", "BTCUSDT", day), csv_text([spot_trade_line(t) for t in trades]),
                      checksum=checksum)
        total += len(trades) if checksum == "good" else 0
    return total


def assert_one_line_errors(stderr: str, count: int) -> list[str]:
    lines = stderr.strip().splitlines()
    assert len(lines) == count, stderr
    assert all(line.startswith("sniper: error: ") for line in lines), stderr
    assert "Traceback" not in stderr
    return lines


def test_a_week_over_a_base_url_loads_shows_the_ledger_and_a_rerun_skips(database, tmp_path):
    total = build_week(tmp_path)
    with archive_server(tmp_path) as (base_url, log):
        first = run_cli(*week_args("--base-url", base_url))
        assert first.returncode == 0, first.stderr
        assert first.stderr == ""  # no progress bar off a terminal
        assert "ledger: 7 of 7 days held for BTCUSDT spot trades" in first.stdout
        assert f"raw.trades holds {total:,} rows" in first.stdout
        downloads = len(log.requests)
        second = run_cli(*week_args("--base-url", base_url))
    assert second.returncode == 0 and second.stdout.count("already loaded") == 7
    assert len(log.requests) == downloads
    assert database.scalar("select count(*) from raw.trades") == total
    ledger = run_cli("ingest", "ledger", "--kind", "binance")
    assert ledger.returncode == 0
    assert ledger.stdout.count("BTCUSDT-trades-2024-06-0") == 7


def test_failed_days_are_reported_one_line_each_and_exit_2_after_the_others_load(database, tmp_path):
    total = build_week(tmp_path, skip=(WEEK[2],), bad_checksum=(WEEK[5],))
    result = run_cli(*week_args("--from-dir", str(tmp_path)))
    assert result.returncode == 2
    missing, mismatch = assert_one_line_errors(result.stderr, 2)
    assert "no archive for 2024-06-03" in missing
    assert "BTCUSDT-trades-2024-06-06.zip: checksum mismatch" in mismatch
    assert "ledger: 5 of 7 days held" in result.stdout
    assert database.scalar("select count(*) from raw.trades") == total
    assert database.scalar("select count(*) from raw.load_failures") == 2


def test_a_zip_that_is_not_a_zip_is_one_line_and_exit_2(database, tmp_path):
    write_archive(tmp_path, ArchiveName("spot", "trades", "BTCUSDT", WEEK[0]), payload=b"PK? no, plain text\n")
    result = run_cli(*week_args("--from-dir", str(tmp_path), "--end", "2024-06-02"))
    assert result.returncode == 2
    [line] = assert_one_line_errors(result.stderr, 1)
    assert line == "sniper: error: BTCUSDT-trades-2024-06-01.zip: not a zip archive; not loaded"


def test_usage_mistakes_are_one_line_and_exit_2(database, tmp_path):
    cases = {
        ("--end", "2024-05-01"): "start 2024-06-01 is not before end 2024-05-01",
        ("--symbol", "btc-usdt"): "invalid symbol 'btc-usdt'",
        ("--kind", "klines"): "klines need an interval",
        ("--from-dir", str(tmp_path / "nowhere")): "is not a directory",
        ("--base-url", "ftp://example.org"): "must start with http:// or https://",
        ("--retries", "0"): "invalid --retries: Input should be greater than or equal to 1",
    }
    for extra, expected in cases.items():
        result = run_cli(*week_args(*extra))
        assert result.returncode == 2, (extra, result.stdout)
        [line] = assert_one_line_errors(result.stderr, 1)
        assert expected in line, line


def test_recording_and_options_commands(database, tmp_path):
    capture = REALDATA / "binance-websocket" / "usdm_btcusdt_20240718.gz"
    loaded = run_cli("ingest", "recording", str(capture), str(tmp_path / "absent.gz"))
    assert loaded.returncode == 2
    [line] = assert_one_line_errors(loaded.stderr, 1)
    assert line.endswith("absent.gz: no such file")
    assert database.scalar("select count(*) from raw.trades") == 974  # the README's count for this capture
    assert database.scalar("select count(*) from raw.load_rejects") == 0

    not_options = tmp_path / "chain.csv"
    not_options.write_text("a,b,c\n1,2,3\n")
    options = run_cli("ingest", "options", str(not_options))
    assert options.returncode == 2
    [line] = assert_one_line_errors(options.stderr, 1)
    assert "chain.csv: not a Tardis options_chain CSV" in line
