"""The backfill flow for real: Prefect runs, dbt builds, the ledger, the lock (faults: tests/faults/)."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from sniper.backfill.ledger import BACKFILL_LOCK_KEY
from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from tests.conftest import run_cli

BUCKETS_PER_DAY = 288


def _market(database, months: int, **kwargs) -> None:
    config = SynthConfig(symbols=["BTCUSDT"], start=date(2024, 6, 1), months=months, trades_per_day=200, **kwargs)
    with database.connect(autocommit=True) as conn:
        generate(conn, config)


def _attempts(database) -> list[tuple]:
    return database.rows(
        "select window_start_date, window_days, status, reason, error from ops.backfill_runs order by attempt_id"
    )


@pytest.fixture(scope="module")
def backfilled(module_database):
    """Six months (bull, bear, sideways, bull, bear, sideways) backfilled from empty, as the
    nightly job would: two `sniper backfill run --weeks 1` calls, then the flow until done."""
    _market(module_database, months=6)
    # As a user runs them: each command starts its own temporary Prefect server and stops it.
    cli_runs = [run_cli("backfill", "run", "--weeks", "1", "--window-days", "31", "--sleep", "0",
                        env={"PREFECT_API_URL": ""}) for _ in range(2)]
    from sniper.flows.backfill import backfill

    backfill(weeks=12, window_days=31, sleep_seconds=0)
    return module_database, cli_runs


@pytest.mark.slow
def test_repeated_runs_reach_full_coverage_in_the_planners_order(backfilled):
    database, cli_runs = backfilled
    assert [run.returncode for run in cli_runs] == [0, 0], cli_runs[-1].stderr[-2000:]
    # A successful run prints progress, never a traceback (Prefect's shutdown included).
    assert not any("Traceback" in run.stderr + run.stdout for run in cli_runs), cli_runs[0].stderr[-3000:]
    attempts = _attempts(database)
    assert all(row[2] == "succeeded" for row in attempts)
    reasons = [row[3] for row in attempts]
    # Newest bull month first (September), then the older one (June)...
    assert [row[0] for row in attempts[:2]] == [date(2024, 9, 1), date(2024, 6, 1)]
    assert all("is bull" in reason for reason in reasons[:2])
    # ...then the bear months (October, then July), then the sideways month (November).
    # Each starts at its month's first unmaterialized day: the 31-day windows of September and
    # June reached into October 1st and July 1st.
    assert [row[0] for row in attempts[2:4]] == [date(2024, 10, 2), date(2024, 7, 2)]
    assert all("is bear" in reason for reason in reasons[2:4])
    assert "is sideways" in reasons[4]
    summary = database.frame("select * from regimes.coverage_summary where symbol = 'BTCUSDT'").iloc[0]
    assert summary["is_requirement_met"]
    assert (summary["bull_months"], summary["bear_months"]) == (2, 2) and summary["sideways_months"] >= 1
    # Every loaded day is materialized: 183 days of complete 5m candles, none twice.
    counts = database.rows(
        "select count(*), count(distinct bucket_start_at), count(*) filter (where is_complete)"
        " from candles.candles_5m where symbol = 'BTCUSDT'"
    )[0]
    assert counts == (183 * BUCKETS_PER_DAY,) * 3
    assert run_cli("backfill", "plan").stdout.strip().startswith("nothing to plan")


@pytest.mark.slow
def test_training_runs_end_to_end_on_the_backfilled_warehouse(backfilled):
    database, _ = backfilled
    # 200 trades a day: half the 5m buckets have no trade and no L1 update, so no OFI or L1
    # OBI. Accepted here as the run always has (rows missing a feature are left out); the
    # default 80% coverage would refuse it (tests/test_futures_history.py shows that).
    result = run_cli("train", "--data-range", "last_3_months", "--min-feature-coverage", "0")
    assert result.returncode in (0, 3), result.stderr[-3000:]
    verdict = "READY FOR LIVE TRADING" if result.returncode == 0 else "KEEP COLLECTING DATA"
    assert verdict in result.stdout
    run = database.frame("select * from evaluation.model_runs").iloc[0]
    assert run["verdict"] == verdict and run["exit_code"] == result.returncode
    assert str(run["train_start_date"]) == "2024-09-01"  # three months before the data's end
    assert list(run["features"]) == ["ofi", "obi", "whale_cvd", "gamma_exposure"]
    months = database.rows(
        "select scope_key from evaluation.model_metrics where evaluation = 'walk_forward' and scope = 'month'"
        " order by 1"
    )
    assert [row[0] for row in months] == ["2024-10", "2024-11"]  # trained on June-September
    regimes = {row[0] for row in database.rows(
        "select scope_key from evaluation.model_metrics where evaluation = 'unseen_regime'"
    )}
    assert regimes == {"bull", "bear", "sideways"}
    # Every out-of-sample prediction of a walk-forward fold enters in its test months (the
    # entry is at the bucket's close, so September 30th 23:55 enters on October 1st).
    outside = database.scalar(
        "select count(*) from evaluation.predictions where evaluation = 'walk_forward'"
        " and bucket_start_at + interval '5 minutes' < '2024-10-01'"
    )
    assert outside == 0
    artifacts = Path(run["artifact_dir"])
    assert (artifacts / "model_long.json").exists() and (artifacts / "metadata.json").exists()
    report = run_cli("report")
    assert report.returncode == 0, report.stderr
    assert Path(report.stdout.strip()).read_text().count("<svg") >= 5


# Issue 17: every folder, and the selections users reported broken, build on a warehouse the
# flows built. (Every model with `+` on both sides is 43 distinct builds, 4.5 to 17 minutes
# here depending on the host: test_every_model_builds_with_all_it_reads_and_all_that_reads_it,
# outside the default run: `pytest -m selections tests/test_backfill_flow.py`.)
SELECTIONS = [
    ("--select", "staging"),
    ("--select", "candles"),
    ("--select", "features"),
    ("--select", "regimes"),
    ("--select", "ml"),
    ("--select", "+regimes_monthly"),
    ("--select", "candles", "--vars", '{"instruments": ["synthetic:spot:BTCUSDT"]}'),
    ("--select", "features_5m+", "--vars", '{"window_start": "2024-09-02", "window_days": 7}'),
]


@pytest.mark.slow
@pytest.mark.parametrize("selection", SELECTIONS, ids=[" ".join(selection[1:]) for selection in SELECTIONS])
def test_any_selection_builds_on_the_backfilled_warehouse(backfilled, selection):
    database, _ = backfilled
    before = _row_counts(database)
    result = run_cli("dbt", "build", *selection)
    assert result.returncode == 0, result.stdout[-3000:]
    assert _row_counts(database) == before  # nothing new to materialize, nothing lost


def _distinct_plus_both_sides() -> list[str]:
    """One model per distinct `+model+` (its ancestors, itself, its descendants; models only:
    two selections of the same models select the same tests), from the parsed manifest."""
    from sniper.warehouse import dbt_connection_env, parsed_manifest

    with dbt_connection_env() as target:
        manifest = parsed_manifest(target)
    models = {uid for uid, node in manifest.nodes.items() if node.resource_type == "model"}
    parents = {uid: [p for p in manifest.nodes[uid].depends_on.nodes if p in models] for uid in models}
    children: dict[str, list[str]] = {uid: [] for uid in models}
    for uid, ups in parents.items():
        for up in ups:
            children[up].append(uid)

    def reachable(start: str, edges: dict[str, list[str]]) -> set[str]:
        found, stack = set(), [start]
        while stack:
            for nxt in edges.get(stack.pop(), []):
                if nxt not in found:
                    found.add(nxt)
                    stack.append(nxt)
        return found

    first_of: dict[frozenset, str] = {}
    for uid in sorted(models):
        selected = frozenset({uid} | reachable(uid, parents) | reachable(uid, children))
        first_of.setdefault(selected, manifest.nodes[uid].name)
    return sorted(first_of.values())


@pytest.mark.selections
def test_every_model_builds_with_all_it_reads_and_all_that_reads_it(backfilled):
    """`sniper dbt build --select +model+` for every model of the project (one per distinct set
    of models), each succeeding, none changing a row.

    On a warehouse every flow has built: the backfill, then the weekly training's own build
    of the ml layer (flows/train.py). `+candles_1d+` selects training_dataset (a descendant)
    but not labels_5m, its other parent: dbt's `+model+` never adds the parents of the
    descendants (`@model` does), so on a warehouse no training has run on yet, it fails
    for want of ml.labels_5m, as dbt documents."""
    from sniper.flows.train import build_dataset

    database, _ = backfilled
    build_dataset.fn()  # the training flow's own build of the ml models
    before = _row_counts(database)
    started = time.perf_counter()
    selections = _distinct_plus_both_sides()
    failed = {}
    for model in selections:
        result = run_cli("dbt", "build", "--select", f"+{model}+")
        if result.returncode != 0:
            failed[model] = [line for line in result.stdout.splitlines() if "ERROR" in line or "Error" in line]
    print(f"\n{len(selections)} distinct +model+ builds in {time.perf_counter() - started:.0f} s")
    assert len(selections) >= 30 and not failed, failed
    assert _row_counts(database) == before


INCREMENTAL_TABLES = [
    *(f"candles.candles_{timeframe}" for timeframe in ("5m", "15m", "1h", "4h", "1d", "1w", "1mo")),
    *(f"features.{name}" for name in ("features_5m", "features_15m", "features_1h", "features_l1_5m",
                                      "features_trade_flow_5m", "features_depth_5m", "features_gamma_5m",
                                      "features_icebergs_5m", "features_futures_5m", "iceberg_events")),
    "intermediate.int_features__iceberg_intervals",
]
# The layers of the 5m timeframe: "_5m", not "5m", which candles_15m and features_15m end with too.
FIVE_MINUTE_TABLES = [table for table in INCREMENTAL_TABLES if table.endswith("_5m") or "iceberg" in table]


def _row_counts(database) -> dict[str, int]:
    return {table: database.scalar(f"select count(*) from {table}") for table in INCREMENTAL_TABLES}  # noqa: S608


@pytest.mark.slow
def test_plain_dbt_commands_keep_history_and_only_retention_deletes(backfilled):
    """Issue 12.1: `sniper dbt build` / `run` with no vars delete nothing; `sniper retention
    apply` deletes by an explicit policy, alike in every layer of the timeframe, and says so.
    Runs after the other tests of the backfilled warehouse: it trims it."""
    database, _ = backfilled
    before = _row_counts(database)
    assert before["candles.candles_5m"] == 183 * BUCKETS_PER_DAY
    for command in ("build", "run"):
        result = run_cli("dbt", command)
        assert result.returncode == 0, result.stdout[-3000:]
        assert _row_counts(database) == before, command
    assert run_cli("backfill", "plan").stdout.strip().startswith("nothing to plan")

    dry = run_cli("retention", "apply", "--keep", "5m=4 weeks", "--dry-run")
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-2000:]
    assert "would delete" in dry.stdout and _row_counts(database) == before

    newest = database.scalar("select max(bucket_start_at) from candles.candles_5m")
    cutoff = newest - timedelta(weeks=4)
    expected_left = {
        table: database.scalar(
            f"select count(*) from {table} where bucket_start_at + interval '5 minutes' > %s", (cutoff,)  # noqa: S608
        )
        for table in FIVE_MINUTE_TABLES
    }
    applied = run_cli("retention", "apply", "--keep", "5m=4 weeks")
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-2000:]
    after = _row_counts(database)
    for table in INCREMENTAL_TABLES:
        assert after[table] == (expected_left[table] if table in FIVE_MINUTE_TABLES else before[table]), table
    # Every 5m layer starts at the same bucket: the first one that ends after the cutoff.
    starts = {database.scalar(f"select min(bucket_start_at) from {table}") for table in  # noqa: S608
              ("candles.candles_5m", "features.features_5m", "features.features_l1_5m", "features.features_depth_5m")}
    assert starts == {cutoff}  # cutoff is a bucket start (newest - 4 weeks): the first bucket ending after it
    recorded = dict(database.rows(
        "select model, deleted_rows from ops.retention_runs where symbol = 'BTCUSDT'"
    ))
    assert recorded["candles_5m"] == before["candles.candles_5m"] - after["candles.candles_5m"]
    assert f"{recorded['candles_5m']:,}" in applied.stdout
    assert set(recorded) == {table.split(".")[1] for table in FIVE_MINUTE_TABLES}
    # A 5m policy leaves the daily candles: nothing is planned again.
    assert run_cli("backfill", "plan").stdout.strip().startswith("nothing to plan")


def test_a_second_run_exits_at_once_while_one_holds_the_lock(database):
    _market(database, months=1, days=3)
    with database.connect(autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(%s)", (BACKFILL_LOCK_KEY,))
        started = time.perf_counter()
        result = run_cli("backfill", "run", "--weeks", "1")
        elapsed = time.perf_counter() - started
    assert result.returncode == 75
    assert "another backfill is running" in result.stderr and result.stderr.count("\n") == 1
    assert elapsed < 60  # no window was built: it gave up at the lock
    assert database.scalar("select count(*) from ops.backfill_runs") == 0


def test_the_window_shrinks_when_memory_is_short():
    from sniper.flows.backfill import window_days_for_memory

    assert window_days_for_memory(7, 3, min_available_memory_mb=10**9) == 3
    assert window_days_for_memory(7, 3, min_available_memory_mb=0) == 7


def test_schedules_are_declared_in_utc():
    from sniper.flows.schedules import deployments

    by_name = {d.name: d for d in deployments()}
    nightly = by_name["nightly-backfill"].schedules[0].schedule
    assert (nightly.cron, nightly.timezone) == ("0 3 * * *", "UTC")
    # It waits up to 5 minutes for a live cycle holding the lock, rather than failing.
    assert by_name["nightly-backfill"].parameters == {"weeks": 1, "lock_wait_seconds": 300}
    weekly = by_name["weekly-retrain"].schedules[0].schedule
    assert (weekly.cron, weekly.timezone) == ("0 0 * * 0", "UTC")  # Sunday 00:00
    assert by_name["weekly-retrain"].parameters["data_range"] == "last_3_months"
    live = by_name["live-materialize"].schedules[0].schedule
    assert (live.cron, live.timezone) == ("*/5 * * * *", "UTC")  # every 5 minutes
    score = by_name["live-score"].schedules[0].schedule
    assert (score.cron, score.timezone) == ("2-59/5 * * * *", "UTC")  # 2 minutes after each cycle
