"""One training run end to end: dataset -> honest evaluation -> verdict -> stored run and model.

The deployed model trains on the requested range (by default the rolling last 3 months);
the evaluation uses all labelled history up to the range's end, because walk-forward
(4 months train, 2 test) and leave-one-regime-out need more than 3 months to be honest.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sniper.db.connection import connect
from sniper.errors import UserError
from sniper.settings import get_settings
from sniper.training.dataset import dataset_span, load_dataset
from sniper.training.coverage import group_coverage, input_coverage_by_month, refuse_thin_groups
from sniper.training.evaluate import SIDES, EvaluationConfig, fit_side, fold_jobs, usable_rows
from sniper.training.fanout import Job, ParallelConfig, Shared, run_jobs
from sniper.training.features import DEFAULT_FEATURES, feature_columns
from sniper.training.models import model_kind
from sniper.training.store import RunRecord, code_version, save_artifacts, write_run
from sniper.training.summary import RunSummary, summarize

DATA_RANGES = {"last_1_month": 1, "last_3_months": 3, "last_6_months": 6, "last_12_months": 12}


class TrainRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    data_range: Literal["last_1_month", "last_3_months", "last_6_months", "last_12_months", "all"] = "last_3_months"
    start: date | None = None
    end: date | None = None  # exclusive; default: the day after the last labelled day
    model: str = "xgboost"
    features: list[str] = Field(default_factory=lambda: list(DEFAULT_FEATURES))
    # A requested group whose columns hold values in less than this share of the rows is
    # refused (python/training/coverage.py), unless missing values are allowed: then the rows
    # keep their NaN and XGBoost learns where "missing" goes at each split.
    min_feature_coverage: float = Field(default=0.8, ge=0.0, le=1.0)
    allow_missing_features: bool = False
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)

    @model_validator(mode="after")
    def _explicit_range(self) -> TrainRequest:
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start {self.start} is not before end {self.end}")
        return self


@dataclass
class TrainOutcome:
    run_id: str
    summary: RunSummary
    artifact_dir: Path
    train_start: date
    data_end: date


def _months_before(day: date, months: int) -> date:
    return (pd.Timestamp(day) - pd.DateOffset(months=months)).date()


def deployed_threshold(results) -> float | None:
    """The newest walk-forward fold's threshold (folds are named wf-YYYY-MM by test month)."""
    folds = sorted((r for r in results if r.kind == "walk_forward"), key=lambda r: r.fold.name)
    return folds[-1].threshold if folds else None


def run_training(request: TrainRequest, parallel: ParallelConfig | None = None) -> TrainOutcome:
    """``parallel`` says where the folds and fits run (python/training/fanout.py); it is not part
    of the run's record, which it cannot change."""
    model_kind(request.model)  # unknown kinds fail before any work
    columns = feature_columns(request.features)
    with connect() as conn:
        first_day, last_day = dataset_span(conn)
        if last_day is None:
            raise UserError("ml.training_dataset has no labelled rows: run the backfill (sniper backfill run) first")
        end = request.end or last_day + timedelta(days=1)
        if request.start is not None:
            train_start = request.start
        elif request.data_range == "all":
            train_start = first_day
        else:
            train_start = _months_before(end, DATA_RANGES[request.data_range])
        data = load_dataset(conn, columns, start=None, end=end)
        inputs_by_month = input_coverage_by_month(conn)
    if data.empty:
        raise UserError(f"no labelled rows before {end}")
    coverages = group_coverage(data, request.features)
    if not request.allow_missing_features:
        refuse_thin_groups(coverages, request.min_feature_coverage, inputs_by_month,
                           sorted(data["instrument"].unique()))
    evaluation = request.evaluation.model_copy(update={"keep_missing_features": request.allow_missing_features})

    train_rows = data[data["entry_at"] >= datetime.combine(train_start, datetime.min.time(), tzinfo=timezone.utc)]
    if train_rows.empty:
        raise UserError(f"no labelled rows between {train_start} and {end}")
    # The folds and the deployed model's two sides are independent jobs: one fan-out for all.
    folds = fold_jobs(data, columns, evaluation)
    final_rows = Shared(usable_rows(train_rows, columns, evaluation))
    sides = [Job(f"final-{side}", fit_side, (final_rows, columns, evaluation, side)) for side in SIDES]
    outputs = run_jobs([*folds, *sides], parallel)
    results, final_models = outputs[: len(folds)], dict(zip(SIDES, outputs[len(folds):], strict=True))
    samples = data["month_regime"].value_counts().to_dict()
    summary = summarize(results, samples, len(evaluation.threshold_search.candidates), evaluation)
    run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    settings = get_settings()
    artifact_dir = settings.state_dir / "models" / run_id
    importance = {c: sum(m.feature_importance().get(c, 0.0) for m in final_models.values()) / 2 for c in columns}
    metadata = {
        "run_id": run_id,
        "request": request.model_dump(mode="json"),
        "feature_columns": columns,
        "train_start": train_start,
        "data_end": end,
        "code_version": code_version(settings.project_dir),
        "verdict": summary.gate.verdict,
        # What a deployed model enters at (python/live/scoring.py): the threshold the newest
        # walk-forward fold chose on its own training months; null when it justified none.
        "threshold": deployed_threshold(results),
    }
    save_artifacts(artifact_dir, final_models, metadata)
    record = RunRecord(
        run_id=run_id,
        model_kind=request.model,
        features=request.features,
        feature_columns=columns,
        data_start_date=first_day,
        data_end_date=end,
        train_start_date=train_start,
        params=request.model_dump(mode="json"),
        code_version=metadata["code_version"],
        artifact_dir=str(artifact_dir),
        feature_importance=importance,
        feature_coverage=coverages,
    )
    with connect() as conn:
        write_run(conn, record, summary, results)
    return TrainOutcome(run_id, summary, artifact_dir, train_start, end)
