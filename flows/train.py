"""Weekly retraining as a Prefect flow: build the ml models, train, evaluate, store, verdict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from prefect import flow, get_run_logger, task

from sniper.backfill.ledger import backfill_lock
from sniper.db.connection import connect
from sniper.errors import UserError
from sniper.live.deployments import deploy
from sniper.training.fanout import ParallelConfig
from sniper.training.pipeline import TrainRequest, run_training
from sniper.warehouse import invoke_dbt_parsed

DATASET_LOCK_WAIT_SECONDS = 600


@task(name="build-training-dataset")
def build_dataset() -> None:
    """Labels and the dataset are tables rebuilt from the candles and features (see docs/training.md),
    under the lock every dbt writer takes (a live cycle may be building the candles)."""
    with backfill_lock(wait_seconds=DATASET_LOCK_WAIT_SECONDS):
        # The staging view of the live signals: ml.forward_outcomes reads it, and a warehouse
        # built before it existed has not made it yet.
        invoke_dbt_parsed(["build", "--select", "stg_ml__entry_signals", "ml"])


@dataclass(frozen=True)
class TrainResult:
    """What one training run decided, as the CLI and the demo print it."""

    run_id: str
    verdict: str
    exit_code: int
    report: str  # the gate's criteria, one per line
    alarms: list[str]
    diagnosis: str
    artifact_dir: str
    train_start: date
    data_end: date


@task(name="train-and-evaluate")
def train_and_evaluate(request: TrainRequest, parallel: ParallelConfig) -> TrainResult:
    """The folds and the final fits run where ``parallel`` says (a Dask cluster: a subflow of tasks)."""
    outcome = run_training(request, parallel)
    return TrainResult(
        run_id=str(outcome.run_id),
        verdict=outcome.summary.gate.verdict,
        exit_code=int(outcome.summary.gate.exit_code),
        report=outcome.summary.gate.report(),
        alarms=[alarm.message for alarm in outcome.summary.alarms],
        diagnosis=outcome.summary.diagnosis.message,
        artifact_dir=str(outcome.artifact_dir),
        train_start=outcome.train_start,
        data_end=outcome.data_end,
    )


@flow(name="train")
def train(
    data_range: str = "last_3_months",
    model: str = "xgboost",
    features: list[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    min_feature_coverage: float = 0.8,
    allow_missing_features: bool = False,
    deploy_as_paper: bool = False,
    dask: str | None = None,
    dask_address: str | None = None,
    dask_local_workers: int | None = None,
) -> TrainResult:
    """The roadmap's `train_sniper_entry_model.py`, as a flow with the same parameters.

    ``dask``, ``dask_address``, ``dask_local_workers``: where the folds and fits run
    (python/training/fanout.py); None keeps the setting (SNIPER_DASK..., default auto).
    """
    chosen = {"dask": dask, "dask_address": dask_address, "dask_local_workers": dask_local_workers}
    parallel = ParallelConfig(**{name: value for name, value in chosen.items() if value is not None})
    request = TrainRequest(
        data_range=data_range, model=model, start=start, end=end, min_feature_coverage=min_feature_coverage,
        allow_missing_features=allow_missing_features, **({"features": features} if features else {}),
    )
    build_dataset()
    result = train_and_evaluate(request, parallel)
    get_run_logger().info("%s (run %s)", result.verdict, result.run_id)
    if deploy_as_paper:
        deploy_paper(result.run_id)
    return result


@task(name="deploy-as-paper")
def deploy_paper(run_id: str) -> None:
    """The weekly retrain's new model: scored and tracked forward as paper, never traded
    until `sniper deploy --run ID --live` (docs/live.md)."""
    try:
        with connect() as conn:
            deploy(conn, run_id, "paper", deployed_by="weekly-retrain")
    except UserError as refused:  # e.g. no threshold: the run is stored, nothing to score with
        get_run_logger().warning("run %s not deployed: %s", run_id, refused)
