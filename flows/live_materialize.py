"""The live materialization as a Prefect flow (deployment `live-materialize`, every 5 minutes).

One cycle: wait until the bucket that just closed is in (its close plus a grace for the
recorder's 1-second batches, or less once every live span's coverage has passed the close),
plan the new and late buckets of every instrument with recent data (python/live/buckets.py),
and build each contiguous run of them with the backfill's own dbt build
(flows/backfill.py: `candles+` minus the ml models, the same window vars, narrowed to the
run's buckets, force_recompute so a late bucket is replaced), under the backfill's advisory
lock, so a live cycle and the nightly backfill never build at the same time. Then the
watermark (ops.live_buckets) records what was built.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run

from sniper.backfill.ledger import BackfillAlreadyRunning, backfill_lock
from sniper.backfill.planner import is_built
from sniper.db.connection import connect
from sniper.flows.live_score import LiveScoreResult, live_score
from sniper.flows.backfill import NOT_PER_WINDOW, WINDOWED_SELECTION, prepare_warehouse, rows_written
from sniper.live.buckets import BucketRun, bucket_floor, plan_cycle, record_built
from sniper.warehouse import invoke_dbt_parsed

# The recorder commits a batch at least every second; its newest row is about 0.7 s old at
# the median and under 2 s at the worst in bench_recorder's hour: 3 s after a close, the
# bucket's ticks are in (or the span's coverage says so earlier).
DEFAULT_GRACE_SECONDS = 3.0
POLL_SECONDS = 0.2
# How long a cycle waits for a backfill (or another cycle) holding the lock before it gives
# up; the next cycle builds what this one could not (the watermark, not the clock, says what
# is due).
DEFAULT_LOCK_WAIT_SECONDS = 30.0
SCORING_VIEW = "scoring_features"


@dataclass(frozen=True)
class BuiltRun:
    instruments: list[str]
    start_at: datetime
    end_at: datetime
    buckets: int
    late_buckets: int
    rows_written: int
    seconds: float


@dataclass(frozen=True)
class LiveMaterializeResult:
    """One cycle: what it built, or why it built nothing."""

    as_of: datetime
    due_until: datetime
    runs: list[BuiltRun] = field(default_factory=list)
    skipped: str | None = None
    waited_seconds: float = 0.0
    score: LiveScoreResult | None = None  # the scoring right after (flows/live_score.py)

    @property
    def buckets(self) -> int:
        return sum(run.buckets for run in self.runs)


def wait_for_close(close_at: datetime, grace_seconds: float, now=None) -> float:
    """Sleep until ``close_at + grace`` or until every live span's coverage has passed
    ``close_at``, whichever comes first; returns the seconds waited."""
    clock = now or (lambda: datetime.now(timezone.utc))
    started = time.monotonic()
    deadline = close_at + timedelta(seconds=grace_seconds)
    while clock() < deadline:
        with connect(autocommit=True) as conn:
            behind = conn.execute(
                "select count(*) from raw.recording_spans where end_reason is null"
                " and (last_ts is null or last_ts < %s)",
                (close_at,),
            ).fetchone()[0]
        if not behind:
            break
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


@task(name="build-live-buckets")
def build_run(run: BucketRun, covered: dict, materialized_at: datetime) -> BuiltRun:
    started = time.perf_counter()
    result = invoke_dbt_parsed(["build", "--select", WINDOWED_SELECTION, "--exclude", NOT_PER_WINDOW,
                         "--exclude-resource-type", "unit_test", "--indirect-selection", "eager",
                         *run.project_vars().dbt_args()])
    with connect(autocommit=True) as conn:
        record_built(conn, run, materialized_at=materialized_at, covered=covered, flow_run_id=flow_run.get_id())
    return BuiltRun([i.key for i in run.instruments], run.start_at, run.end_at, len(run.buckets),
                    len(run.late), rows_written(result), time.perf_counter() - started)


@flow(name="live-materialize")
def live_materialize(
    as_of: datetime | None = None,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    catch_up_hours: float = 24.0,
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
    score: bool = True,
) -> LiveMaterializeResult:
    """Build every 5m bucket closed by ``as_of`` (default: now, after the grace) since the last
    cycle, and every bucket late ticks reached. Buckets older than ``catch_up_hours`` before
    ``as_of`` are the nightly backfill's. ``as_of`` replays a past moment (tests, replays)."""
    logger = get_run_logger()
    waited = 0.0
    if as_of is None:
        now = datetime.now(timezone.utc)
        waited = wait_for_close(bucket_floor(now), grace_seconds)
        as_of = now
    try:
        with backfill_lock(wait_seconds=lock_wait_seconds):
            with connect(autocommit=True) as conn:
                built = is_built(conn) and _relation_exists(conn, f"ml.{SCORING_VIEW}")
            if not built:
                prepare_warehouse()
                invoke_dbt_parsed(["run", "--select", SCORING_VIEW])
            # Taken before the coverage is read: a batch committed after it, and not seen by
            # the build, is late next cycle (one committed in between is seen by both).
            materialized_at = _database_now()
            with connect(autocommit=True) as conn:
                plan = plan_cycle(conn, as_of=as_of, catch_up=timedelta(hours=catch_up_hours))
                covered = {p.instrument: p.covered_through_at for p in plan.instruments}
            runs = []
            for run in plan.runs():
                runs.append(build_run(run, {i.key: covered[i] for i in run.instruments}, materialized_at))
                logger.info("built %s buckets (%s late) of %s from %s in %.1f s", len(run.buckets), len(run.late),
                            ", ".join(i.key for i in run.instruments), run.start_at, runs[-1].seconds)
    except BackfillAlreadyRunning:
        logger.warning("a backfill holds the lock: nothing built this cycle; the next one catches up")
        return LiveMaterializeResult(as_of, bucket_floor(as_of), skipped="a backfill holds the lock",
                                     waited_seconds=waited)
    # Right after the build, in the same process: scoring is the rest of the latency path.
    scored = live_score() if score else None
    return LiveMaterializeResult(as_of, plan.due_until, runs, waited_seconds=waited, score=scored)


def _database_now() -> datetime:
    with connect(autocommit=True) as conn:
        return conn.execute("select clock_timestamp()").fetchone()[0]


def _relation_exists(conn, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]

