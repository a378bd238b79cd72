"""Persist a training run: the evaluation tables and the model artifacts with their metadata."""

from __future__ import annotations

import json
import math
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from pydantic import BaseModel, ConfigDict

from sniper import __version__
from sniper.db.copy import copy_frame
from sniper.training.coverage import GroupCoverage
from sniper.training.evaluate import FoldResult
from sniper.training.summary import RunSummary


class RunRecord(BaseModel):
    """What a training run was asked and did, besides its evaluation (evaluation.model_runs)."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    model_kind: str
    features: list[str]
    feature_columns: list[str]
    data_start_date: date
    data_end_date: date
    train_start_date: date
    params: dict[str, Any]
    code_version: str
    artifact_dir: str
    feature_importance: dict[str, float]
    feature_coverage: list[GroupCoverage]


def code_version(project_dir: Path) -> str:
    """The package version and the git commit it was run from (with +dirty when modified)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=project_dir, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=project_dir,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
        return f"{__version__}+{commit}{'.dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return __version__


def _clean(value):
    """JSON has no NaN: undefined figures are stored as null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (np.floating, np.integer)):
        return _clean(value.item())
    return value


def run_row(record: RunRecord, summary: RunSummary) -> dict[str, Any]:
    """The evaluation.model_runs row of a run: column -> value (JSON columns as JSON text)."""
    overall = {key: _clean(value) for key, value in summary.overall.items()}
    return {
        **record.model_dump(exclude={"params", "feature_importance", "feature_coverage"}),
        "params": json.dumps(record.params, default=str),
        "verdict": summary.gate.verdict,
        "exit_code": summary.gate.exit_code,
        "criteria": json.dumps([_criterion(c) for c in summary.gate.criteria]),
        "alarms": json.dumps([a.model_dump(mode="json") for a in summary.alarms]),
        "diagnosis": json.dumps(summary.diagnosis.model_dump(mode="json")),
        "n_trades": int(overall["n_trades"]),
        "win_rate": _pooled_win_rate(summary),
        **{key: overall[key] for key in ("sharpe", "max_drawdown", "long_share", "probabilistic_sharpe",
                                         "deflated_sharpe", "pbo", "spa_p_value")},
        "baseline_tests": json.dumps([_json_safe(test.model_dump(mode="json")) for test in summary.baseline_tests]),
        "feature_importance": json.dumps(record.feature_importance),
        "feature_coverage": json.dumps([coverage.model_dump() for coverage in record.feature_coverage]),
    }


def write_run(conn: psycopg.Connection, record: RunRecord, summary: RunSummary, results: list[FoldResult]) -> None:
    """One transaction: the run row, its metrics, predictions and equity curves."""
    row = run_row(record, summary)
    with conn.transaction():
        conn.execute(
            sql.SQL("insert into evaluation.model_runs ({}) values ({})").format(
                sql.SQL(", ").join(map(sql.Identifier, row)), sql.SQL(", ").join(map(sql.Placeholder, row))
            ),
            row,
        )
        # Undefined figures (NaN) reach the table as NULL. The run id is new (its row was just
        # inserted, a primary key): no row of it exists yet, so COPY writes straight into the tables.
        copy_frame(conn, "evaluation.model_metrics", summary.metric_rows.assign(run_id=record.run_id),
                   skip_duplicates=False)
        for result in results:
            copy_frame(conn, "evaluation.predictions", _predictions(record.run_id, result), skip_duplicates=False)
            copy_frame(conn, "evaluation.equity_curve", _equity(record.run_id, result), skip_duplicates=False)


def _criterion(criterion) -> dict:
    values = criterion.model_dump(mode="json")
    values["value"] = _clean(criterion.value)
    return values


def _json_safe(values: dict) -> dict:
    return {key: _clean(value) for key, value in values.items()}


def _pooled_win_rate(summary: RunSummary):
    return _clean(summary.gate.criterion("win_rate").value)


def _fold_name(result: FoldResult) -> str:
    return result.fold.name


def _predictions(run_id: str, result: FoldResult) -> pd.DataFrame:
    scored = result.scored
    trade_key = ["instrument", "entry_at", "side"]
    is_trade = (
        pd.MultiIndex.from_frame(scored[trade_key]).isin(pd.MultiIndex.from_frame(result.trades[trade_key]))
        if len(result.trades) else np.zeros(len(scored), dtype=bool)
    )
    return pd.DataFrame(
        {
            "run_id": run_id,
            "evaluation": result.kind,
            "fold": _fold_name(result),
            **_instrument_columns(scored["instrument"]),
            "bucket_start_at": scored["bucket_start_at"],
            "side": scored["side"],
            "win_probability": scored["win_probability"],
            "threshold": result.threshold if result.threshold is not None else np.nan,
            "is_trade": is_trade,
            "net_return": scored["net_return"],
            "exit_at": scored["exit_at"],
            "month_regime": scored["month_regime"],
        }
    )


def _instrument_columns(keys: pd.Series) -> dict[str, pd.Series]:
    """exchange, market and symbol of each exchange:market:SYMBOL key (python/instruments.py)."""
    distinct = pd.Series(keys.unique())  # a few instruments, hundreds of thousands of rows: split each once
    parts = distinct.astype(str).str.split(":", n=2, expand=True).reindex(columns=range(3)).set_index(distinct)
    return {name: keys.map(parts[index]) for index, name in enumerate(("exchange", "market", "symbol"))}


def _equity(run_id: str, result: FoldResult) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": run_id,
            "evaluation": result.kind,
            "fold": _fold_name(result),
            "at": pd.to_datetime(result.equity.index, utc=True),
            "equity": result.equity.to_numpy(dtype=float),
        }
    )


def save_artifacts(directory: Path, models: dict, metadata: dict) -> Path:
    """Each side's model as XGBoost JSON, next to a metadata file with the run's config."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {side: model.save(directory / f"model_{side}.json").name for side, model in models.items()}
    (directory / "metadata.json").write_text(json.dumps({**metadata, "model_files": files}, indent=2, default=str))
    return directory
