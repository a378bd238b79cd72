"""Score newly complete 5-minute buckets with each instrument's deployed models (ml.entry_signals).

The buckets are those the live materialization built (ops.live_buckets) since the model was
deployed and that this model has not scored yet: scoring a bucket twice with one model is a
no-op (the primary key, ``on conflict do nothing``). Features come from ml.scoring_features,
the dataset's own feature model (models/intermediate/int_ml__scale_free_features.sql); nothing
here computes a feature. A bucket without a complete candle, or missing a feature the model
needs (unless its run allowed missing features), gets a row with no probabilities and the
reason. Sides follow the simulation's rules 1 and 2 (python/training/simulation.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from sniper.instruments import Instrument
from sniper.live.deployments import DeployedRun, Deployment, load_run
from sniper.training.metrics import SIDES
from sniper.training.models import model_kind

SCORING_VIEW = ("ml", "scoring_features")
INCOMPLETE = "candle incomplete: the bucket is not inside one recorded span"
NO_CANDLE = "no candle: nothing was recorded or loaded for the bucket"


def choose_side(long_probability: float, short_probability: float, threshold: float) -> str | None:
    """The side a bucket's probabilities take: a side signals at ``p >= threshold``; of two
    signalling sides the likelier one; an exact tie takes neither (simulation rules 1, 2).

    >>> choose_side(0.62, 0.40, 0.6), choose_side(0.61, 0.65, 0.6), choose_side(0.7, 0.7, 0.6)
    ('long', 'short', None)
    >>> choose_side(0.55, 0.58, 0.6) is None
    True
    """
    signalling = {side: p for side, p in zip(SIDES, (long_probability, short_probability), strict=True)
                  if p >= threshold}
    if not signalling:
        return None
    if len(signalling) == 2 and signalling["long"] == signalling["short"]:
        return None
    return max(signalling, key=signalling.get)


@dataclass(frozen=True)
class ScoredInstrument:
    instrument: str
    run_id: str
    status: str
    buckets: int
    signals: int  # rows with a side
    unscored: int  # rows with a reason instead of probabilities


def pending_buckets(conn: psycopg.Connection, deployment: Deployment) -> list[datetime]:
    """Buckets built live since the deployment that its run has not scored."""
    i = deployment.instrument
    return [
        row[0]
        for row in conn.execute(
            "select built.bucket_start_at from ops.live_buckets as built"
            " where built.exchange = %s and built.market = %s and built.symbol = %s"
            "   and built.materialized_at >= %s"
            "   and not exists (select 1 from ml.entry_signals as scored where scored.exchange = built.exchange"
            "     and scored.market = built.market and scored.symbol = built.symbol"
            "     and scored.bucket_start_at = built.bucket_start_at and scored.run_id = %s)"
            " order by 1",
            (i.exchange, i.market, i.symbol, deployment.deployed_at, deployment.run_id),
        )
    ]


def read_features(conn: psycopg.Connection, instrument: Instrument, buckets: list[datetime],
                  columns: list[str]) -> pd.DataFrame:
    """ml.scoring_features rows of the buckets: is_complete and the model's columns (float)."""
    query = sql.SQL(
        "select bucket_start_at, is_complete, {columns} from {view}"
        " where exchange = %s and market = %s and symbol = %s and bucket_start_at = any(%s)"
    ).format(columns=sql.SQL(", ").join(map(sql.Identifier, columns)), view=sql.Identifier(*SCORING_VIEW))
    rows = conn.execute(query, (instrument.exchange, instrument.market, instrument.symbol, buckets)).fetchall()
    frame = pd.DataFrame(rows, columns=["bucket_start_at", "is_complete", *columns])
    for column in columns:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(np.float32)
    return frame.set_index("bucket_start_at")


def signal_rows(run: DeployedRun, models: dict, features: pd.DataFrame, buckets: list[datetime]) -> list[dict]:
    """One row per bucket: probabilities and side, or the reason there are none."""
    columns = run.feature_columns
    rows = []
    scorable = []
    for bucket in buckets:
        row = {"bucket_start_at": bucket, "is_complete": False, "feature_completeness": 0.0,
               "long_win_probability": None, "short_win_probability": None, "side": None, "no_signal_reason": None}
        if bucket not in features.index:
            row["no_signal_reason"] = NO_CANDLE
        else:
            values = features.loc[bucket, columns]
            present = values.notna()
            row["is_complete"] = bool(features.loc[bucket, "is_complete"])
            row["feature_completeness"] = float(present.mean())
            if not row["is_complete"]:
                row["no_signal_reason"] = INCOMPLETE
            elif not present.all() and not run.allow_missing_features:
                row["no_signal_reason"] = "missing features: " + ", ".join(c for c in columns if not present[c])
            else:
                scorable.append(len(rows))
        rows.append(row)
    if scorable:
        matrix = features.loc[[rows[i]["bucket_start_at"] for i in scorable], columns]
        probabilities = {side: models[side].win_probability(matrix) for side in SIDES}
        for position, index in enumerate(scorable):
            long_p = float(probabilities["long"][position])
            short_p = float(probabilities["short"][position])
            rows[index].update(long_win_probability=long_p, short_win_probability=short_p,
                               side=choose_side(long_p, short_p, run.threshold))
    return rows


def load_models(run: DeployedRun) -> dict:
    import json

    metadata = json.loads((run.artifact_dir / "metadata.json").read_text())
    kind = model_kind(metadata.get("request", {}).get("model", "xgboost"))
    return {side: kind.load(run.artifact_dir / metadata["model_files"][side], run.feature_columns) for side in SIDES}


def write_signals(conn: psycopg.Connection, deployment: Deployment, run: DeployedRun, rows: list[dict],
                  flow_run_id: str | None) -> None:
    """Insert the rows; latency is measured by the database at the insert (clock_timestamp)."""
    i = deployment.instrument
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(
            "insert into ml.entry_signals (exchange, market, symbol, bucket_start_at, run_id, deployment_status,"
            " entry_at, is_complete, feature_completeness, long_win_probability, short_win_probability, threshold,"
            " side, no_signal_reason, latency_seconds, flow_run_id)"
            " values (%(exchange)s, %(market)s, %(symbol)s, %(bucket_start_at)s, %(run_id)s, %(status)s,"
            " %(bucket_start_at)s + interval '5 minutes', %(is_complete)s, %(feature_completeness)s,"
            " %(long_win_probability)s, %(short_win_probability)s, %(threshold)s, %(side)s, %(no_signal_reason)s,"
            " extract(epoch from clock_timestamp() - (%(bucket_start_at)s + interval '5 minutes')), %(flow_run_id)s)"
            " on conflict (exchange, market, symbol, bucket_start_at, run_id) do nothing",
            [{**row, "exchange": i.exchange, "market": i.market, "symbol": i.symbol, "run_id": run.run_id,
              "status": deployment.status, "threshold": run.threshold, "flow_run_id": flow_run_id} for row in rows],
        )


def score_deployment(conn: psycopg.Connection, deployment: Deployment, flow_run_id: str | None = None,
                     cache: dict | None = None) -> ScoredInstrument:
    """Score the deployment's pending buckets; an empty result when there are none."""
    buckets = pending_buckets(conn, deployment)
    if not buckets:
        return ScoredInstrument(deployment.instrument.key, deployment.run_id, deployment.status, 0, 0, 0)
    cache = cache if cache is not None else {}
    if deployment.run_id not in cache:
        run = load_run(conn, deployment.run_id)
        cache[deployment.run_id] = (run, load_models(run))
    run, models = cache[deployment.run_id]
    features = read_features(conn, deployment.instrument, buckets, run.feature_columns)
    rows = signal_rows(run, models, features, buckets)
    write_signals(conn, deployment, run, rows, flow_run_id)
    return ScoredInstrument(
        deployment.instrument.key, run.run_id, deployment.status, len(rows),
        sum(1 for row in rows if row["side"] is not None),
        sum(1 for row in rows if row["no_signal_reason"] is not None),
    )


def _finite(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))
