"""Everything the HTML report shows about one training run, read from the evaluation tables
and, when dbt has built them, the regime coverage tables."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
import psycopg
from pydantic import BaseModel, ValidationError

from sniper.errors import UserError
from sniper.live.forward import ForwardRecord, evaluate_forward
from sniper.report.relations import relation_exists
from sniper.report.warehouse import INSTRUMENT_KEY
from sniper.training.baselines import BaselineTest
from sniper.training.coverage import GroupCoverage
from sniper.training.gate import Alarm, Criterion, Diagnosis

RUN_COLUMNS = (
    "run_id, created_at, model_kind, features, feature_columns, data_start_date, data_end_date,"
    " train_start_date, params, code_version, artifact_dir, verdict, exit_code, criteria, alarms,"
    " diagnosis, n_trades, win_rate, sharpe, max_drawdown, long_share, probabilistic_sharpe,"
    " deflated_sharpe, pbo, spa_p_value, coalesce(baseline_tests, '[]'::jsonb) as baseline_tests, feature_importance,"
    " feature_coverage"
)
COVERAGE_TABLE = "regimes.regime_coverage"
COVERAGE_SUMMARY_TABLE = "regimes.coverage_summary"


class ModelRun(BaseModel):
    """One row of evaluation.model_runs, its JSON columns parsed into the gate's own types."""

    run_id: str
    created_at: datetime
    model_kind: str
    features: list[str]
    feature_columns: list[str]
    data_start_date: date
    data_end_date: date
    train_start_date: date
    params: dict
    code_version: str
    artifact_dir: str
    verdict: str
    exit_code: int
    criteria: list[Criterion]
    alarms: list[Alarm]
    diagnosis: Diagnosis
    n_trades: int
    win_rate: float | None
    sharpe: float | None
    max_drawdown: float | None
    long_share: float | None
    probabilistic_sharpe: float | None
    deflated_sharpe: float | None
    pbo: float | None  # NULL for runs stored before issue 16, or when not computable
    spa_p_value: float | None
    baseline_tests: list[BaselineTest]
    feature_importance: dict[str, float]
    feature_coverage: list[GroupCoverage] | None  # NULL for runs stored before issue 13


@dataclass(frozen=True)
class ReportData:
    run: ModelRun
    months: pd.DataFrame  # walk-forward test months: month, regime, n_trades, win_rate, long_share
    regimes: pd.DataFrame  # per evaluation and regime: n_trades, win_rate, sharpe, sortino, max_drawdown, long_share
    equity: pd.DataFrame  # walk-forward test folds: fold, at (UTC), equity
    month_regimes: dict[str, str]  # YYYY-MM -> regime, for the bands behind the equity curve
    coverage: pd.DataFrame | None  # regimes.regime_coverage; None until dbt has built it
    coverage_summary: pd.DataFrame | None  # regimes.coverage_summary; None until dbt has built it
    forward: ForwardRecord | None = None  # the run's forward record, once a live signal's label completed


def _frame(conn: psycopg.Connection, query: str, params=None) -> pd.DataFrame:
    cursor = conn.execute(query, params)
    return pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])


def latest_run_id(conn: psycopg.Connection) -> str | None:
    row = conn.execute(
        "select run_id from evaluation.model_runs order by created_at desc, run_id desc limit 1"
    ).fetchone()
    return row[0] if row else None


def load_run(conn: psycopg.Connection, run_id: str) -> ModelRun:
    cursor = conn.execute(f"select {RUN_COLUMNS} from evaluation.model_runs where run_id = %s", (run_id,))
    row = cursor.fetchone()
    if row is None:
        raise UserError(f"no run {run_id!r} in evaluation.model_runs")
    try:
        return ModelRun(**dict(zip([column.name for column in cursor.description], row, strict=True)))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UserError(f"run {run_id!r} in evaluation.model_runs is not readable: {where}: {first['msg']}") from None


def _mode(counts: Counter) -> str:
    """The most frequent label; ties go to the alphabetically first."""
    return min(counts, key=lambda label: (-counts[label], label))


def month_regimes(conn: psycopg.Connection, run_id: str, coverage: pd.DataFrame | None) -> dict[str, str]:
    """Each month's regime as the run saw it (its walk-forward predictions' ``month_regime``,
    the most frequent over instruments), months it did not label filled from regime_coverage."""
    labelled = conn.execute(
        "select to_char(bucket_start_at at time zone 'utc', 'YYYY-MM'), month_regime, count(*)"
        " from evaluation.predictions"
        " where run_id = %s and evaluation = 'walk_forward' and month_regime is not null"
        " group by 1, 2",
        (run_id,),
    ).fetchall()
    instruments = {row[0] for row in conn.execute(
        f"select distinct {INSTRUMENT_KEY} from evaluation.predictions where run_id = %s", (run_id,)
    )}
    votes: dict[str, Counter] = {}
    for month, regime, count in labelled:
        votes.setdefault(month, Counter())[regime] += count
    regimes = {month: _mode(counts) for month, counts in votes.items()}
    if coverage is not None and len(coverage):
        fallback: dict[str, Counter] = {}
        in_run = coverage[coverage["instrument"].isin(instruments)] if instruments else coverage
        for row in in_run.dropna(subset=["regime"]).itertuples():
            month = pd.Timestamp(row.month_start_date).strftime("%Y-%m")
            fallback.setdefault(month, Counter())[row.regime] += 1
        for month, counts in fallback.items():
            regimes.setdefault(month, _mode(counts))
    return dict(sorted(regimes.items()))


def load_coverage(conn: psycopg.Connection) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    coverage = (
        _frame(conn, f"select {INSTRUMENT_KEY} as instrument, * from {COVERAGE_TABLE}"
                     " order by exchange, market, symbol, month_start_date")
        if relation_exists(conn, COVERAGE_TABLE) else None
    )
    summary = (
        _frame(conn, f"select {INSTRUMENT_KEY} as instrument, * from {COVERAGE_SUMMARY_TABLE}"
                     " order by exchange, market, symbol")
        if relation_exists(conn, COVERAGE_SUMMARY_TABLE) else None
    )
    return coverage, summary


def load_report_data(conn: psycopg.Connection, run_id: str | None = None) -> ReportData:
    """The given run, or the newest one; a one-line UserError when there is none."""
    if run_id is None:
        run_id = latest_run_id(conn)
        if run_id is None:
            raise UserError("no training run in evaluation.model_runs yet: run `sniper train` first")
    run = load_run(conn, run_id)
    months = _frame(
        conn,
        "select scope_key as month, regime, n_trades, win_rate, long_share from evaluation.model_metrics"
        " where run_id = %s and evaluation = 'walk_forward' and scope = 'month' order by scope_key",
        (run_id,),
    )
    regimes = _frame(
        conn,
        "select evaluation, scope_key as regime, n_trades, win_rate, sharpe, sortino, max_drawdown, long_share"
        " from evaluation.model_metrics where run_id = %s and scope = 'regime'"
        " order by evaluation <> 'walk_forward', array_position(array['bull', 'bear', 'sideways'], scope_key),"
        " scope_key",
        (run_id,),
    )
    equity = _frame(
        conn,
        "select fold, at, equity from evaluation.equity_curve"
        " where run_id = %s and evaluation = 'walk_forward' order by fold, at",
        (run_id,),
    )
    coverage, summary = load_coverage(conn)
    forward = evaluate_forward(conn, "run", run_id) if relation_exists(conn, "ml.forward_outcomes") else None
    return ReportData(
        forward=forward if forward is not None and forward.outcomes else None,
        run=run,
        months=months,
        regimes=regimes,
        equity=equity,
        month_regimes=month_regimes(conn, run_id, coverage),
        coverage=coverage,
        coverage_summary=summary,
    )
