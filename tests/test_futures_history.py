"""Real history for every roadmap feature, spot and USD-M side by side (issue 13, end to end).

Archives in exactly Binance's published layouts (tests/futures_archives.py: headers as
published, alternate days headerless, zips with their .CHECKSUM) are served from a local
HTTP server for two USD-M symbols over 2024-03-25 .. 2024-04-05, so bookTicker stops
mid-range (Binance published it until 2024-03-30; the server answers 404 after), plus USD-M
and spot trades of the same symbols. Through the CLI, as a team would:
- every archive loads exactly (counts from the rows the fixtures wrote);
- spot and USD-M candles of the same symbol both exist and differ where their trades do;
- regimes.feature_input_coverage shows L1 present in March (until 2024-03-30) and absent in
  April, for the USD-M instruments only;
- `sniper train --features ofi,...` over the whole range is refused in one line naming the
  month and the instruments without L1; with --allow-missing-features it trains, evaluates
  and reports, the report showing each feature group's coverage per month.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from sniper.ingest.layout import ArchiveName
from sniper.warehouse import invoke_dbt
from tests.conftest import run_cli
from tests.futures_archives import FUTURES_KINDS, write_archive_tree
from tests.ingest_fixtures import UM_TRADES_HEADER, archive_server, csv_text, make_trades, um_trade_line, write_archive

SYMBOLS = ("BTCUSDT", "ETHUSDT")
DAYS = [date(2024, 3, 25) + timedelta(days=i) for i in range(12)]
END = DAYS[-1] + timedelta(days=1)
TRADES_PER_DAY = 300
RAW_TABLE = {"bookTicker": "raw.l1_quotes", "bookDepth": "raw.depth_bands", "metrics": "raw.futures_metrics",
             "fundingRate": "raw.funding_rates", "trades": "raw.trades"}


def write_um_trades(root, symbol: str, offset: int) -> int:
    """USD-M trades of `symbol`: the spot fixture's times and sizes, prices 7.5 higher on a
    0.1 grid (USD-M prints one decimal), ids of their own; returns the rows written."""
    written = 0
    for index, day in enumerate(DAYS):
        trades = [dataclasses.replace(trade, price=round(trade.price + 7.5, 1))
                  for trade in make_trades(day, TRADES_PER_DAY + 50, first_id=900_000_000 + offset + index * 10_000)]
        write_archive(root, ArchiveName("um", "trades", symbol, day),
                      csv_text([um_trade_line(trade) for trade in trades], UM_TRADES_HEADER if index % 2 else None))
        written += len(trades)
    return written


@pytest.fixture(scope="module")
def history(module_database, tmp_path_factory):
    root = tmp_path_factory.mktemp("binance-mirror")
    tree = write_archive_tree(root, SYMBOLS, DAYS, (*FUTURES_KINDS, "trades"), ticks_per_day=TRADES_PER_DAY)
    expected = {(market, kind, symbol): len([row for rows in by_file.values() for row in rows])
                for (market, kind, symbol), by_file in tree.rows.items()}
    for offset, symbol in enumerate(SYMBOLS):
        expected[("um", "trades", symbol)] = write_um_trades(root, symbol, offset * 1_000_000)
    outputs = {}
    with archive_server(root) as (base_url, _):
        for market, kind, symbol in sorted(expected):
            result = run_cli("ingest", "binance", "--market", market, "--kind", kind, "--symbol", symbol,
                             "--start", DAYS[0].isoformat(), "--end", END.isoformat(), "--base-url", base_url)
            assert result.returncode == 0, (kind, symbol, result.stderr)
            outputs[(market, kind, symbol)] = result.stdout + result.stderr
    # One window over the twelve days for every instrument: candles, features, regimes, coverage.
    built = invoke_dbt(["build", "--select", "staging", "candles+", "--exclude", "path:models/ml"],
                       {"window_start": DAYS[0].isoformat(), "window_days": 14})
    assert built.success
    return module_database, expected, outputs


@pytest.mark.slow
def test_every_archive_loads_exactly(history):
    db, expected, outputs = history
    for (market, kind, symbol), count in expected.items():
        loaded = db.scalar(f"select count(*) from {RAW_TABLE[kind]} where exchange = 'binance'"  # noqa: S608
                           " and market = %s and symbol = %s", (market, symbol))
        assert loaded == count > 0, (market, kind, symbol)
    # bookTicker's days after 2024-03-30 are named once, as not published, and fail nothing.
    for symbol in SYMBOLS:
        said = outputs[("um", "bookTicker", symbol)]
        assert said.count("not published") == 1 and "2024-03-31 .. 2024-04-05" in said


@pytest.mark.slow
def test_spot_and_um_candles_of_a_symbol_both_exist_and_differ(history):
    db, _, _ = history
    for symbol in SYMBOLS:
        candles = {market: dict(db.rows(
            "select bucket_start_at, close from candles.candles_5m"
            " where exchange = 'binance' and market = %s and symbol = %s and not is_empty", (market, symbol)))
            for market in ("spot", "um")}
        assert len(candles["spot"]) > 0 and len(candles["um"]) > 0, symbol
        common = candles["spot"].keys() & candles["um"].keys()
        differing = sum(candles["um"][at] != candles["spot"][at] for at in common)
        assert len(common) > 100 and differing > 0.9 * len(common), symbol
        counts = dict(db.rows("select market, sum(trade_count) from candles.candles_5m"
                              " where exchange = 'binance' and symbol = %s group by market", (symbol,)))
        assert counts == {market: db.scalar("select count(*) from raw.trades where market = %s and symbol = %s",
                                            (market, symbol)) for market in ("spot", "um")}


@pytest.mark.slow
def test_the_coverage_table_shows_l1_until_the_archive_stops(history):
    db, _, _ = history
    rows = db.rows("select market, symbol, to_char(month_start_date, 'YYYY-MM'), has_l1, has_depth_bands,"
                   " has_open_interest, has_funding from regimes.feature_input_coverage")
    seen = {(market, symbol, month): flags for market, symbol, month, *flags in rows}
    for symbol in SYMBOLS:
        assert seen[("um", symbol, "2024-03")] == [True, True, True, True]
        assert seen[("um", symbol, "2024-04")] == [False, True, True, True]
        for month in ("2024-03", "2024-04"):
            assert seen[("spot", symbol, month)] == [False, False, False, False]
    # Per bucket: L1 updates on and before 2024-03-30, none from 2024-03-31 on.
    for symbol in SYMBOLS:
        last_update = db.scalar("select max(bucket_start_at) from features.features_5m"
                                " where market = 'um' and symbol = %s and l1_update_count > 0", (symbol,))
        assert last_update.date() == date(2024, 3, 30)


@pytest.mark.slow
def test_training_on_missing_l1_is_refused_unless_allowed(history, tmp_path):
    env = {"SNIPER_DATA_DIR": str(tmp_path)}
    refused = run_cli("train", "--data-range", "all", "--features", "ofi,whale_cvd", env=env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    line = refused.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in refused.stderr
    assert "feature group ofi" in line and "2024-04 (0%" in line
    assert all(f"binance:um:{symbol}" in line.split("2024-04")[1] for symbol in SYMBOLS)
    assert "--allow-missing-features" in line

    allowed = run_cli("train", "--data-range", "all", "--features", "ofi,whale_cvd", "--allow-missing-features",
                      env=env)
    assert allowed.returncode in (0, 3), allowed.stdout + allowed.stderr
    assert "KEEP COLLECTING DATA" in allowed.stdout or "READY FOR LIVE TRADING" in allowed.stdout
    report = run_cli("report", "--out", str(tmp_path / "report.html"), env=env)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "report.html").read_text()
    assert 'id="feature-coverage"' in page and "<td>ofi</td>" in page and "<th>2024-04</th>" in page
