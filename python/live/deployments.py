"""Which training run is deployed for which instrument (ml.deployments), and the checks a
deployment must pass.

A run is deployed for the instruments it was evaluated on, as ``paper`` (scored and tracked,
not traded; the weekly retrain does this) or ``live`` (only a run whose verdict was READY FOR
LIVE TRADING, by an explicit ``sniper deploy --run ID --live``). A run is refused, with one
line and nothing written, when it does not exist, its model files are gone, it has no entry
threshold, or its feature columns are not all columns ml.training_dataset produces now.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import psycopg

from sniper.errors import UserError
from sniper.instruments import Instrument
from sniper.training.gate import READY

Status = Literal["paper", "live"]
DATASET = "training_dataset"


@dataclass(frozen=True)
class DeployedRun:
    """A run as scoring uses it: its model files, feature columns and threshold."""

    run_id: str
    verdict: str
    artifact_dir: Path
    feature_columns: list[str]
    threshold: float | None
    allow_missing_features: bool


@dataclass(frozen=True)
class Deployment:
    instrument: Instrument
    run_id: str
    status: Status
    deployed_at: datetime


def load_run(conn: psycopg.Connection, run_id: str) -> DeployedRun:
    """The run's row and artifacts, or a one-line UserError."""
    row = conn.execute(
        "select verdict, artifact_dir, feature_columns, params from evaluation.model_runs where run_id = %s",
        (run_id,),
    ).fetchone()
    if row is None:
        raise UserError(f"no training run {run_id!r} (evaluation.model_runs; `sniper status` lists the latest)")
    verdict, artifact_dir, columns, params = row
    directory = Path(artifact_dir)
    metadata_path = directory / "metadata.json"
    if not metadata_path.exists():
        raise UserError(f"run {run_id}: its model files are gone ({metadata_path} does not exist)")
    metadata = json.loads(metadata_path.read_text())
    missing_files = [name for name in metadata.get("model_files", {}).values() if not (directory / name).exists()]
    if missing_files or set(metadata.get("model_files", {})) != {"long", "short"}:
        raise UserError(f"run {run_id}: model files missing in {directory} ({', '.join(missing_files) or 'sides'})")
    threshold = metadata.get("threshold", _threshold_from_predictions(conn, run_id))
    return DeployedRun(run_id, verdict, directory, list(columns), threshold,
                       bool((params or {}).get("allow_missing_features", False)))


def _threshold_from_predictions(conn: psycopg.Connection, run_id: str) -> float | None:
    """Runs stored before metadata carried the threshold: the newest walk-forward fold's."""
    row = conn.execute(
        "select threshold from evaluation.predictions where run_id = %s and evaluation = 'walk_forward'"
        " order by fold desc limit 1",
        (run_id,),
    ).fetchone()
    return None if row is None or row[0] is None or row[0] != row[0] else float(row[0])


def dataset_columns(conn: psycopg.Connection) -> set[str]:
    return {
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'ml' and table_name = %s",
            (DATASET,),
        )
    }


def check_deployable(conn: psycopg.Connection, run: DeployedRun, status: Status) -> None:
    """Refuse (UserError) a run the warehouse cannot score, or that may not go live."""
    produced = dataset_columns(conn)
    if not produced:
        raise UserError("ml.training_dataset does not exist: build it (`sniper train` or `sniper dbt build -s ml`)")
    missing = [column for column in run.feature_columns if column not in produced]
    if missing:
        raise UserError(
            f"run {run.run_id} does not match the warehouse: ml.training_dataset no longer produces "
            f"{', '.join(missing)}; retrain"
        )
    if run.threshold is None:
        raise UserError(f"run {run.run_id} chose no entry threshold (too little training data): nothing to deploy")
    if status == "live" and run.verdict != READY:
        raise UserError(f"run {run.run_id} may not go live: its verdict was {run.verdict}, not {READY}")


def run_instruments(conn: psycopg.Connection, run_id: str) -> list[Instrument]:
    """The instruments the run was evaluated on (its predictions)."""
    return sorted(
        Instrument(*row)
        for row in conn.execute(
            "select distinct exchange, market, symbol from evaluation.predictions where run_id = %s", (run_id,)
        )
    )


def deploy(conn: psycopg.Connection, run_id: str, status: Status, instruments: list[Instrument] | None = None,
           deployed_by: str | None = None) -> list[Deployment]:
    """Check the run and deploy it for its instruments (or the given subset) in one transaction."""
    run = load_run(conn, run_id)
    check_deployable(conn, run, status)
    evaluated = run_instruments(conn, run_id)
    chosen = evaluated if instruments is None else [i for i in instruments if i in evaluated]
    if not chosen:
        raise UserError(f"run {run_id} was evaluated on no instrument asked for "
                        f"({', '.join(i.key for i in evaluated) or 'none'})")
    who = deployed_by or getpass.getuser()
    deployments = []
    with conn.transaction():
        for instrument in chosen:
            deployed_at = conn.execute(
                "insert into ml.deployments (exchange, market, symbol, run_id, status, deployed_by)"
                " values (%s, %s, %s, %s, %s, %s)"
                " on conflict (exchange, market, symbol, run_id, status) do update set deployed_at = deployments.deployed_at"
                " returning deployed_at",
                (instrument.exchange, instrument.market, instrument.symbol, run_id, status, who),
            ).fetchone()[0]
            deployments.append(Deployment(instrument, run_id, status, deployed_at))
    return deployments


def current_deployments(conn: psycopg.Connection) -> list[Deployment]:
    """Per instrument, its newest live deployment and its newest paper one (if not the same run)."""
    rows = conn.execute(
        "select distinct on (exchange, market, symbol, status) exchange, market, symbol, run_id, status, deployed_at"
        " from ml.deployments order by exchange, market, symbol, status, deployed_at desc, deployment_id desc"
    ).fetchall()
    current = [Deployment(Instrument(e, m, s), run_id, status, at) for e, m, s, run_id, status, at in rows]
    live = {(d.instrument, d.run_id) for d in current if d.status == "live"}
    return [d for d in current if d.status == "live" or (d.instrument, d.run_id) not in live]
