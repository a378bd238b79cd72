"""Persist a training run: the evaluation tables and the model artifacts with their metadata."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

from sniper import __version__
from sniper.db.copy import copy_frame
from sniper.training.evaluate import FoldResult
from sniper.training.summary import RunSummary


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


def write_run(conn: psycopg.Connection, run: dict, summary: RunSummary, results: list[FoldResult]) -> None:
    """One transaction: the run row, its metrics, predictions and equity curves."""
    overall = {key: _clean(value) for key, value in summary.overall.items()}
    with conn.transaction():
        conn.execute(
            "insert into evaluation.model_runs (run_id, model_kind, features, feature_columns, data_start_date,"
            " data_end_date, train_start_date, params, code_version, artifact_dir, verdict, exit_code, criteria,"
            " alarms, diagnosis, n_trades, win_rate, sharpe, max_drawdown, long_share, probabilistic_sharpe,"
            " deflated_sharpe, pbo, spa_p_value, baseline_tests, feature_importance) values (%s, %s, %s, %s, %s,"
            " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                run["run_id"], run["model_kind"], run["features"], run["feature_columns"], run["data_start"],
                run["data_end"], run["train_start"], json.dumps(run["params"], default=str), run["code_version"],
                run["artifact_dir"], summary.gate.verdict, summary.gate.exit_code,
                json.dumps([_criterion(c) for c in summary.gate.criteria]),
                json.dumps([a.model_dump(mode="json") for a in summary.alarms]),
                json.dumps(summary.diagnosis.model_dump(mode="json")),
                int(overall["n_trades"]), _pooled_win_rate(summary), overall["sharpe"], overall["max_drawdown"],
                overall["long_share"], overall["probabilistic_sharpe"], overall["deflated_sharpe"],
                overall["pbo"], overall["spa_p_value"],
                json.dumps([_json_safe(test.model_dump(mode="json")) for test in summary.baseline_tests]),
                json.dumps(run["feature_importance"]),
            ),
        )
        # Undefined figures (NaN) reach the table as NULL through COPY's CSV path.
        copy_frame(conn, "evaluation.model_metrics", summary.metric_rows.assign(run_id=run["run_id"]))
        for result in results:
            copy_frame(conn, "evaluation.predictions", _predictions(run["run_id"], result))
            copy_frame(conn, "evaluation.equity_curve", _equity(run["run_id"], result))


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
    taken = set(zip(result.trades["instrument"], result.trades["entry_at"], result.trades["side"])) if len(result.trades) else set()
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
            "is_trade": [key in taken for key in zip(scored["instrument"], scored["entry_at"], scored["side"])],
            "net_return": scored["net_return"],
            "exit_at": scored["exit_at"],
            "month_regime": scored["month_regime"],
        }
    )


def _instrument_columns(keys: pd.Series) -> dict[str, pd.Series]:
    """exchange, market and symbol of each exchange:market:SYMBOL key (python/instruments.py)."""
    parts = keys.astype(str).str.split(":", n=2, expand=True).reindex(columns=range(3))
    return {"exchange": parts[0], "market": parts[1], "symbol": parts[2]}


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
