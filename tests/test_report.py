"""`sniper report`: the HTML page of a run, checked against hand-inserted evaluation and regime rows.

The charts carry ids (matplotlib gids), so the test counts bars, bands and cells in the
page and compares them with what it inserted, computing the expected sets on its own.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.conftest import run_cli

UTC = timezone.utc
NEW_RUN, OLD_RUN = "run-new", "run-old"

CRITERIA = [
    {"name": "win rate, last 3 test months pooled", "value": 0.4857, "comparison": ">", "threshold": 0.55,
     "passed": False, "note": "2024-10..2024-12"},
    {"name": "Sharpe ratio of daily test returns", "value": 1.72, "comparison": ">", "threshold": 1.5,
     "passed": True, "note": ""},
    {"name": "maximum drawdown of test equity", "value": 0.134, "comparison": "<", "threshold": 0.12,
     "passed": False, "note": ""},
    {"name": "tested on an unseen regime", "value": True, "comparison": "is", "threshold": True,
     "passed": True, "note": ""},
    {"key": "pbo", "name": "probability of backtest overfitting (thresholds, CSCV)", "value": 0.3125,
     "comparison": "<", "threshold": 0.5, "passed": True,
     "note": "S=16: 12,870 splits of 48 of 61 test days, the oldest 13 left out, 46 thresholds"},
    {"key": "spa", "name": "beats random, always-long and always-short entries (SPA p-value, largest)",
     "value": 0.087, "comparison": "<", "threshold": 0.05, "passed": False,
     "note": "largest of random 0.004, always long 0.087, always short 0.001 (61 days)"},
]
# The newest run's tests against the baselines (the older run predates them: NULL).
BASELINE_TESTS = [
    {"baseline": "random", "p_value": 0.004, "model_mean_return": 0.00123, "baseline_mean_return": -0.00041,
     "n_days": 61, "note": ""},
    {"baseline": "always_long", "p_value": 0.087, "model_mean_return": 0.00123, "baseline_mean_return": 0.00062,
     "n_days": 61, "note": ""},
    {"baseline": "always_short", "p_value": 0.001, "model_mean_return": 0.00123, "baseline_mean_return": -0.0011,
     "n_days": 61, "note": ""},
]
ALARMS = [
    {"kind": "regime_change", "message": "win rate moved -15.0 points from 2024-09 to 2024-10 (limit 10.0)",
     "value": -0.15, "threshold": 0.1, "month": "2024-10"},
    {"kind": "side_bias", "message": "predictions biased: 85% of trades are long (limit 80%)",
     "value": 0.85, "threshold": 0.8, "month": None},
]
DIAGNOSIS = {"urgent": True, "reasons": ["no trades in the newest test month"], "scarcest_regime": "sideways",
             "message": "MORE DATA NEEDED URGENTLY: collect sideways data (1200 training samples, the fewest)"}
IMPORTANCE = {"ofi_5m": 0.31, "obi_l1_5m": 0.12, "whale_cvd_1h": 0.4, "gamma_exposure_5m": 0.12, "cvd_15m": 0.05}
# month, dominant regime, trades, win rate, long share (2024-12: no trade at all)
MONTHS = [
    ("2024-08", "bull", 40, 0.60, 0.9),
    ("2024-09", "bull", 50, 0.62, 0.8),
    ("2024-10", "bear", 30, 0.47, 0.7),
    ("2024-11", "sideways", 40, 0.50, 1.0),
    ("2024-12", None, 0, None, None),
]
# evaluation, regime, sharpe, max drawdown (the unseen sideways fold had no trade: no row;
# the unseen bear fold's Sharpe is undefined)
REGIME_ROWS = [
    ("walk_forward", "bull", 2.1, 0.05),
    ("walk_forward", "bear", -0.4, 0.134),
    ("walk_forward", "sideways", 0.3, 0.07),
    ("unseen_regime", "bull", 1.1, 0.09),
    ("unseen_regime", "bear", None, 0.0),
]
# symbol, month, regime of the month for that symbol: how many predictions rows carry it.
PREDICTION_REGIMES = [
    ("BTCUSDT", "2024-08", "bull", 3), ("ETHUSDT", "2024-08", "bull", 2),
    ("BTCUSDT", "2024-09", "bull", 2), ("ETHUSDT", "2024-09", "sideways", 1),
    ("BTCUSDT", "2024-10", "bear", 3), ("ETHUSDT", "2024-10", "sideways", 2),
    ("BTCUSDT", "2024-11", "sideways", 1), ("ETHUSDT", "2024-11", "bull", 1),  # a tie: alphabetical
]
# walk-forward folds and their equity after each exit; one unseen-regime curve that must not be drawn
EQUITY = {
    ("walk_forward", "wf-2024-08"): [(datetime(2024, 8, 3, 12, tzinfo=UTC), 1.01),
                                     (datetime(2024, 8, 20, tzinfo=UTC), 1.04),
                                     (datetime(2024, 9, 28, tzinfo=UTC), 1.08)],
    ("walk_forward", "wf-2024-10"): [(datetime(2024, 10, 2, tzinfo=UTC), 0.97),
                                     (datetime(2024, 11, 15, tzinfo=UTC), 0.93)],
    ("walk_forward", "wf-2024-12"): [(datetime(2024, 12, 20, tzinfo=UTC), 1.0)],
    ("unseen_regime", "loro-bull"): [(datetime(2024, 8, 5, tzinfo=UTC), 1.02)],
}
COVERAGE_SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
COVERAGE_MONTHS = [date(2024, month, 1) for month in range(6, 13)]
# symbol -> regimes of June..December
COVERAGE_REGIMES = {
    "BTCUSDT": ["bull", "bear", "bull", "bull", "bear", "sideways", "bear"],
    "ETHUSDT": ["bull", "sideways", "bull", "bull", "bear", "sideways", "sideways"],
    "SOLUSDT": ["bear", "bear", None, "bull", "bull", "bull", "sideways"],
}


def _days_in(month: date) -> int:
    return ((month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day


def coverage_rows() -> list[tuple]:
    """Hand-made regime_coverage rows: BTC materialized June-September, ETH only August,
    SOL none (its September has no label: no price for every day)."""
    materialized = {("BTCUSDT", m) for m in COVERAGE_MONTHS[:4]} | {("ETHUSDT", COVERAGE_MONTHS[2])}
    rows = []
    for symbol in COVERAGE_SYMBOLS:
        for month, regime in zip(COVERAGE_MONTHS, COVERAGE_REGIMES[symbol], strict=True):
            days = _days_in(month)
            done = (symbol, month) in materialized
            rows.append((symbol, month, days, days if done else 10, done, regime,
                         None if regime is None else 1.2, "klines", regime is not None))
    return rows


def create_regime_tables(conn: psycopg.Connection) -> None:
    """The two dbt models the report reads, with exactly their columns, filled by hand."""
    conn.execute("create schema if not exists regimes")
    conn.execute(
        "create table regimes.regime_coverage (exchange text, market text, symbol text, month_start_date date,"
        " days_in_month integer,"
        " complete_days bigint, is_materialized boolean, regime text, trend_strength float8, label_source text,"
        " has_prices_for_every_day boolean)"
    )
    conn.cursor().executemany(
        "insert into regimes.regime_coverage values ('binance', 'spot', %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        coverage_rows(),
    )
    conn.execute(
        "create table regimes.coverage_summary (exchange text, market text, symbol text, materialized_months bigint,"
        " bull_months bigint,"
        " bear_months bigint, sideways_months bigint, required_months integer, required_bull_months integer,"
        " required_bear_months integer, required_sideways_months integer, missing_months integer,"
        " missing_bull_months integer, missing_bear_months integer, missing_sideways_months integer,"
        " is_requirement_met boolean)"
    )
    conn.cursor().executemany(
        "insert into regimes.coverage_summary values ('binance', 'spot', %s, %s, %s, %s, %s, 6, 2, 2, 1,"
        " %s, %s, %s, %s, %s)",
        [("BTCUSDT", 4, 3, 1, 0, 2, 0, 1, 1, False), ("ETHUSDT", 1, 1, 0, 0, 5, 1, 2, 1, False),
         ("SOLUSDT", 0, 0, 0, 0, 6, 2, 2, 1, False)],
    )


def _insert_run(conn, run_id: str, created_at: datetime, *, verdict: str, exit_code: int, criteria, alarms,
                diagnosis, importance, pbo=None, spa_p_value=None, baseline_tests=None) -> None:
    conn.execute(
        "insert into evaluation.model_runs (run_id, created_at, model_kind, features, feature_columns,"
        " data_start_date, data_end_date, train_start_date, params, code_version, artifact_dir, verdict,"
        " exit_code, criteria, alarms, diagnosis, n_trades, win_rate, sharpe, max_drawdown, long_share,"
        " probabilistic_sharpe, deflated_sharpe, pbo, spa_p_value, baseline_tests, feature_importance)"
        " values (%s, %s, 'xgboost', %s, %s, '2024-04-01', '2025-01-01', '2024-10-01', %s, '0.1.0+abc123',"
        " '/tmp/artifacts', %s, %s, %s, %s, %s, 160, 0.4857, 1.72, 0.134, 0.85, 0.91, 0.62, %s, %s, %s, %s)",
        (run_id, created_at, ["ofi", "obi"], sorted(importance), Jsonb({"max_depth": 4, "eta": 0.05}), verdict,
         exit_code, Jsonb(criteria), Jsonb(alarms), Jsonb(diagnosis), pbo, spa_p_value,
         None if baseline_tests is None else Jsonb(baseline_tests), Jsonb(importance)),
    )


def insert_sample_runs(conn: psycopg.Connection) -> None:
    """An older READY run and the newest KEEP COLLECTING run with its metrics, predictions, equity."""
    ready_criteria = [dict(criterion, passed=True) for criterion in CRITERIA]
    _insert_run(conn, OLD_RUN, datetime(2024, 12, 1, tzinfo=UTC), verdict="READY FOR LIVE TRADING", exit_code=0,
                criteria=ready_criteria, alarms=[],
                diagnosis={"urgent": False, "reasons": [], "scarcest_regime": "bear", "message": "enough data"},
                importance={"ofi_5m": 1.0})
    _insert_run(conn, NEW_RUN, datetime(2025, 1, 2, tzinfo=UTC), verdict="KEEP COLLECTING DATA", exit_code=3,
                criteria=CRITERIA, alarms=ALARMS, diagnosis=DIAGNOSIS, importance=IMPORTANCE, pbo=0.3125,
                spa_p_value=0.087, baseline_tests=BASELINE_TESTS)
    cursor = conn.cursor()
    cursor.executemany(
        "insert into evaluation.model_metrics (run_id, evaluation, scope, scope_key, regime, n_trades, win_rate,"
        " long_share) values (%s, 'walk_forward', 'month', %s, %s, %s, %s, %s)",
        [(NEW_RUN, *month) for month in MONTHS],
    )
    cursor.executemany(
        "insert into evaluation.model_metrics (run_id, evaluation, scope, scope_key, regime, n_trades, sharpe,"
        " max_drawdown) values (%s, %s, 'regime', %s, %s, 20, %s, %s)",
        [(NEW_RUN, evaluation, regime, regime, sharpe, drawdown) for evaluation, regime, sharpe, drawdown in REGIME_ROWS],
    )
    predictions = []
    for symbol, month, regime, count in PREDICTION_REGIMES:
        for index in range(count):
            at = datetime.fromisoformat(f"{month}-05T00:00:00+00:00") + timedelta(hours=index)
            predictions.append((NEW_RUN, "wf-" + month, symbol, at, regime))
    cursor.executemany(
        "insert into evaluation.predictions (run_id, evaluation, fold, exchange, market, symbol, bucket_start_at,"
        " side, win_probability, threshold, is_trade, net_return, exit_at, month_regime)"
        " values (%s, 'walk_forward', %s, 'binance', 'spot', %s, %s, 'long', 0.6, 0.55, true, 0.01,"
        " %s + interval '30 minutes', %s)",
        [(run, fold, symbol, at, at, regime) for run, fold, symbol, at, regime in predictions],
    )
    cursor.executemany(
        "insert into evaluation.equity_curve (run_id, evaluation, fold, at, equity) values (%s, %s, %s, %s, %s)",
        [(NEW_RUN, evaluation, fold, at, equity) for (evaluation, fold), points in EQUITY.items()
         for at, equity in points],
    )


@pytest.fixture
def warehouse(database):
    with database.connect() as conn:
        insert_sample_runs(conn)
        create_regime_tables(conn)
    return database


class TableRows(HTMLParser):
    """The text of every cell of the table with the given id, row by row."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id, self.inside, self.rows, self.cell = table_id, False, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag == "td":
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag == "td":
            self.rows[-1].append(self.cell.strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def table_rows(page: str, table_id: str) -> list[list[str]]:
    parser = TableRows(table_id)
    parser.feed(page)
    return [row for row in parser.rows if row]  # the header row has th cells only


def ids(page: str, prefix: str) -> list[str]:
    """Every element id starting with ``prefix``, suffix only, in page order."""
    return re.findall(rf'id="{re.escape(prefix)}([^"]+)"', page)


def expected_month_regimes() -> dict[str, str]:
    """Most frequent month_regime among the run's predictions per month (ties alphabetical), months
    without predictions from regime_coverage over the run's symbols."""
    votes: dict[str, Counter] = {}
    for _, month, regime, count in PREDICTION_REGIMES:
        votes.setdefault(month, Counter())[regime] += count
    run_symbols = {symbol for symbol, *_ in PREDICTION_REGIMES}
    for symbol, month, *_, regime, _, _, _ in coverage_rows():
        name = f"{month:%Y-%m}"
        if symbol in run_symbols and regime is not None and name not in {m for _, m, _, _ in PREDICTION_REGIMES}:
            votes.setdefault(name, Counter())[regime] += 1
    return {month: sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for month, counts in votes.items()}


def assert_self_contained(page: str) -> None:
    assert re.search(r"https?://", page, flags=re.I) is None
    assert re.search(r"\burl\((?!#)", page) is None  # url() only for in-page clip paths and hatches
    for attribute in re.findall(r'\b(?:src|href)="([^"]*)"', page):
        assert attribute.startswith(("data:", "#")), attribute


def test_report_of_the_newest_run(warehouse, tmp_path):
    out = tmp_path / "nested" / "report.html"
    result = run_cli("report", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out.resolve())
    page = out.read_text()
    assert_self_contained(page)
    assert f"sniper model report: {NEW_RUN}" in page
    assert re.search(r'id="verdict">KEEP COLLECTING DATA', page)

    # The gate's table lists exactly the inserted criteria, with their pass/fail.
    rows = table_rows(page, "criteria")
    assert [(row[0], row[4]) for row in rows] == [
        (criterion["name"], "PASS" if criterion["passed"] else "FAIL") for criterion in CRITERIA
    ]
    assert rows[0][1] == "0.486" and rows[0][3] == "0.550" and rows[3][1] == "True"
    # The reasons: failed criteria, every alarm, the diagnosis.
    failed_list = page[page.index('id="failed-criteria"'):page.index('id="alarms"')]
    assert [name for name in (c["name"] for c in CRITERIA) if name in failed_list] == [
        c["name"] for c in CRITERIA if not c["passed"]
    ]
    for alarm in ALARMS:
        assert alarm["message"] in page
    assert DIAGNOSIS["message"] in page and "sideways" in page

    # One win-rate bar per inserted month, the alarm marked on its month, the gate line drawn.
    assert ids(page, "winrate-bar-") == [month for month, *_ in MONTHS]
    assert ids(page, "alarm-") == ["2024-10"]
    assert 'id="winrate-gate-line"' in page
    # Equity: the walk-forward folds only, over the regime bands of the months they span.
    assert sorted(ids(page, "equity-")) == sorted(fold for kind, fold in EQUITY if kind == "walk_forward")
    regimes = expected_month_regimes()
    assert regimes["2024-11"] == "bull" and regimes["2024-12"] == "bear"  # the tie, and the coverage fallback
    assert sorted(ids(page, "band-")) == sorted(f"{month}-{regimes[month]}" for month in
                                                ("2024-08", "2024-09", "2024-10", "2024-11", "2024-12"))
    # Sharpe and drawdown bars per evaluation and regime; the undefined Sharpe has none.
    assert sorted(ids(page, "sharpe-")) == sorted(f"{e}-{r}" for e, r, s, _ in REGIME_ROWS if s is not None)
    assert sorted(ids(page, "drawdown-")) == sorted(f"{e}-{r}" for e, r, _, d in REGIME_ROWS if d is not None)
    # Long share: overall plus every month with trades.
    assert ids(page, "side-long-") == ["overall"] + [m for m, _, n, _, _ in MONTHS if n]
    # Feature importance, largest first.
    assert ids(page, "importance-") == [
        name for name, _ in sorted(IMPORTANCE.items(), key=lambda item: (-item[1], item[0]))
    ]
    # The heat map: one cell per coverage row, faded where not materialized.
    assert sorted(ids(page, "coverage-cell-")) == sorted(
        f"binance:spot:{symbol}-{month:%Y-%m}-{'materialized' if done else 'not-materialized'}"
        for symbol, month, _, _, done, *_ in coverage_rows()
    )
    summary = table_rows(page, "coverage-summary")
    assert [row[0] for row in summary] == [f"binance:spot:{symbol}" for symbol in COVERAGE_SYMBOLS]
    assert summary[0][1:] == ["4 / 6", "3 / 2", "1 / 2", "0 / 1", "not met"]

    # PBO and the SPA p-value next to the DSR; the model against each baseline, daily means in percent.
    headline = dict(table_rows(page, "headline"))
    assert headline["deflated Sharpe ratio"] == "0.620"
    assert headline["probability of backtest overfitting"] == "0.312"  # 0.3125 to three decimals
    assert headline["SPA p-value against the baselines (largest)"] == "0.087"
    assert table_rows(page, "baseline-tests") == [
        [test["baseline"].replace("_", " "), f"{test['model_mean_return']:.3%}", f"{test['baseline_mean_return']:.3%}",
         f"{test['p_value']:.3f}", str(test["n_days"]), ""] for test in BASELINE_TESTS
    ]
    assert table_rows(page, "baseline-tests")[0][:3] == ["random", "0.123%", "-0.041%"]
    spa = next(row for row in rows if row[0].startswith("beats random"))
    assert spa[1:5] == ["0.087", "<", "0.050", "FAIL"] and "always long 0.087" in spa[5]


def test_report_of_a_given_run_goes_to_the_project_reports_folder(warehouse, tmp_path):
    result = run_cli("report", "--run", OLD_RUN, env={"SNIPER_PROJECT_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    out = tmp_path / "reports" / f"report-{OLD_RUN}.html"
    assert result.stdout.strip() == str(out)
    page = out.read_text()
    assert re.search(r'id="verdict">READY FOR LIVE TRADING', page)
    assert "Every criterion passed." in page and "No alarm." in page
    assert [row[4] for row in table_rows(page, "criteria")] == ["PASS"] * len(CRITERIA)
    # This run stored no metrics, predictions or equity: the page says so instead of drawing.
    assert "No walk-forward trade was taken" in page and "No walk-forward test month." in page
    # Stored before PBO and the baselines existed: not available, no baseline table.
    headline = dict(table_rows(page, "headline"))
    assert headline["probability of backtest overfitting"] == "n/a"
    assert headline["SPA p-value against the baselines (largest)"] == "n/a"
    assert 'id="baseline-tests"' not in page
    assert ids(page, "importance-") == ["ofi_5m"]


def test_report_before_dbt_built_the_regime_tables(database, tmp_path):
    with database.connect() as conn:
        insert_sample_runs(conn)
    out = tmp_path / "report.html"
    result = run_cli("report", "--out", str(out))
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert "Regime coverage: not built yet" in page and "Coverage summary: not built yet" in page
    # Without coverage, December has no regime: its band is not drawn.
    assert "2024-12" not in {band[:7] for band in ids(page, "band-")}
    assert len(ids(page, "band-")) == 4


def test_no_run_is_one_line_and_exit_2(database, tmp_path):
    result = run_cli("report", "--out", str(tmp_path / "r.html"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no training run" in result.stderr, result.stderr
    assert not (tmp_path / "r.html").exists()


def test_unknown_run_is_one_line_and_exit_2(warehouse, tmp_path):
    result = run_cli("report", "--run", "no-such-run", "--out", str(tmp_path / "r.html"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no-such-run" in result.stderr, result.stderr


def test_default_path_is_under_the_project(monkeypatch, tmp_path):
    from sniper.commands.report import default_path
    from sniper.settings import get_settings

    monkeypatch.setenv("SNIPER_PROJECT_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert default_path("2025-01-02T10:00/x") == Path(tmp_path) / "reports" / "report-2025-01-02T10_00_x.html"
    finally:
        get_settings.cache_clear()


def test_a_run_whose_json_breaks_the_contract_is_one_line_and_exit_2(database, tmp_path):
    with database.connect() as conn:
        _insert_run(conn, "run-odd", datetime(2025, 1, 1, tzinfo=UTC), verdict="KEEP COLLECTING DATA", exit_code=3,
                    criteria=[{"name": "win rate", "passed": False}], alarms=[], diagnosis=DIAGNOSIS,
                    importance={})
    result = run_cli("report", "--out", str(tmp_path / "r.html"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "run-odd" in result.stderr and "criteria.0" in result.stderr
