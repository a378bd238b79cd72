"""Live scoring as a Prefect flow (deployment `live-score`, right after each live-materialize).

1. Score: every bucket the live materialization built since each deployment and not yet scored
   by its run goes to ml.entry_signals (python/live/scoring.py). This is the latency path:
   nothing else comes before it.
2. Outcomes: when a signal's label can have completed (its horizon lies behind the newest
   built bucket), labels_5m and ml.forward_outcomes are built by dbt (the label training
   learns), under the lock every dbt writer takes.
3. The forward record of every deployed run and every instrument's live chain is evaluated and
   stored (ml.forward_evaluations), for `sniper status`, the report and the backfill planner.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run

from sniper.backfill.ledger import BackfillAlreadyRunning, backfill_lock
from sniper.db.connection import connect
from sniper.dbt_vars import ProjectVars
from sniper.live import forward
from sniper.live.deployments import current_deployments
from sniper.live.scoring import ScoredInstrument, score_deployment
from sniper.warehouse import invoke_dbt_parsed

OUTCOME_MODELS = ("stg_ml__entry_signals", "labels_5m", "forward_outcomes")
DEFAULT_LOCK_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class ForwardSummary:
    scope: str
    scope_key: str
    n_trades: int
    win_rate: float
    enough_data: bool
    urgent: bool
    alarms: list[str]
    expectation: str | None


@dataclass(frozen=True)
class LiveScoreResult:
    scored: list[ScoredInstrument]
    scoring_seconds: float
    outcomes_built: bool
    outcomes_seconds: float
    forward: list[ForwardSummary] = field(default_factory=list)
    skipped_outcomes: str | None = None

    @property
    def signals(self) -> int:
        return sum(s.signals for s in self.scored)


@task(name="score-buckets")
def score_buckets() -> list[ScoredInstrument]:
    results = []
    cache: dict = {}
    with connect(autocommit=True) as conn:
        for deployment in current_deployments(conn):
            results.append(score_deployment(conn, deployment, flow_run.get_id(), cache))
    return results


def outcomes_pending(conn) -> bool:
    """A signal with a side whose label can be complete and whose outcome is not recorded."""
    horizon = ProjectVars().label_horizon_buckets  # the label's default, as dbt builds it
    if conn.execute("select to_regclass('ml.forward_outcomes') is null").fetchone()[0]:
        return conn.execute("select exists (select 1 from ml.entry_signals where side is not null)").fetchone()[0]
    return conn.execute(
        "select exists (select 1 from ml.entry_signals as signals"
        " where signals.side is not null"
        "   and signals.entry_at + %s * interval '5 minutes' <= (select max(built.bucket_start_at)"
        "     from ops.live_buckets as built where built.exchange = signals.exchange"
        "     and built.market = signals.market and built.symbol = signals.symbol)"
        "   and not exists (select 1 from ml.forward_outcomes as recorded where recorded.exchange = signals.exchange"
        "     and recorded.market = signals.market and recorded.symbol = signals.symbol"
        "     and recorded.bucket_start_at = signals.bucket_start_at and recorded.run_id = signals.run_id))",
        (horizon,),
    ).fetchone()[0]


@task(name="record-outcomes")
def record_outcomes() -> None:
    invoke_dbt_parsed(["build", "--select", *OUTCOME_MODELS, "--exclude-resource-type", "unit_test"])


@task(name="evaluate-forward")
def evaluate_forward_records() -> list[ForwardSummary]:
    summaries = []
    with connect(autocommit=True) as conn:
        deployments = current_deployments(conn)
        scopes = [("run", run_id) for run_id in sorted({d.run_id for d in deployments})]
        scopes += [("chain", key) for key in sorted({d.instrument.key for d in deployments if d.status == "live"})]
        for scope, key in scopes:
            record = forward.evaluate_forward(conn, scope, key)
            if not record.outcomes:
                continue  # nothing to judge yet: no diagnosis, no alarm
            forward.store(conn, record)
            summaries.append(ForwardSummary(
                scope, key, int(record.overall["n_trades"]), record.overall["win_rate"], record.is_enough,
                record.diagnosis.urgent, [a.message for a in record.alarms],
                record.expectation.message if record.expectation else None,
            ))
    return summaries


@flow(name="live-score")
def live_score(lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS) -> LiveScoreResult:
    """Score the newly built buckets, record completed outcomes, evaluate the forward record."""
    logger = get_run_logger()
    started = time.perf_counter()
    scored = score_buckets()
    scoring_seconds = time.perf_counter() - started
    for result in scored:
        if result.buckets:
            logger.info("%s run %s (%s): %s buckets, %s signals, %s without a signal", result.instrument,
                        result.run_id, result.status, result.buckets, result.signals, result.unscored)
    started = time.perf_counter()
    built, skipped = False, None
    with connect(autocommit=True) as conn:
        pending = outcomes_pending(conn)
    if pending:
        try:
            with backfill_lock(wait_seconds=lock_wait_seconds):
                record_outcomes()
                built = True
        except BackfillAlreadyRunning:
            skipped = "a backfill holds the lock: outcomes are recorded next cycle"
            logger.warning(skipped)
    outcomes_seconds = time.perf_counter() - started
    summaries = evaluate_forward_records()
    return LiveScoreResult(scored, scoring_seconds, built, outcomes_seconds, summaries, skipped)
