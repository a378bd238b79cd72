"""A small hand-made ml.training_dataset and a real training run on it: for tests that need a
trained run (to deploy, to score with) but not months of the synthetic market behind it.

Hourly entries over 2024-01 .. 2024-06 for spot BTCUSDT and ETHUSDT; each side wins with a
logistic probability of the bucket's flow_imbalance, so the run's verdict is decided by ``edge``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sniper.training.evaluate import EvaluationConfig
from sniper.training.models import XGBoostParams
from sniper.training.pipeline import TrainOutcome, TrainRequest, run_training

SYMBOLS = ("BTCUSDT", "ETHUSDT")


def hand_made_dataset(seed: int = 5, edge: float = 3.0) -> pd.DataFrame:
    """Hourly entries over six months for both instruments, wins leaning with flow_imbalance
    (``edge`` is the logistic slope: 0 makes wins independent of every feature)."""
    rng = np.random.default_rng(seed)
    frames = []
    for symbol in SYMBOLS:
        entry = pd.date_range("2024-01-01", "2024-06-30 23:00", freq="1h", tz="UTC")
        flow = rng.uniform(-1, 1, len(entry))
        long_wins = rng.random(len(entry)) < 1 / (1 + np.exp(-edge * flow))
        short_wins = rng.random(len(entry)) < 1 / (1 + np.exp(edge * flow))
        frames.append(pd.DataFrame({
            "exchange": "binance", "market": "spot", "symbol": symbol,
            "bucket_start_at": entry - pd.Timedelta(minutes=5), "entry_at": entry,
            "month_regime": [("bull", "bear", "sideways")[m % 3] for m in entry.month],
            "long_net_return": np.where(long_wins, 0.003, -0.003), "long_exit_at": entry + pd.Timedelta(minutes=20),
            "short_net_return": np.where(short_wins, 0.003, -0.003), "short_exit_at": entry + pd.Timedelta(minutes=20),
            "flow_imbalance": flow, "flow_imbalance_15m": flow * 0.5 + rng.uniform(-0.5, 0.5, len(entry)),
            "is_label_complete": True,
        }))
    return pd.concat(frames, ignore_index=True)


def write_training_dataset(conn, frame: pd.DataFrame) -> None:
    """``frame`` as a new ml.training_dataset (the one table training reads), its column types
    taken from the frame's dtypes."""
    def sql_type(dtype) -> str:
        if pd.api.types.is_bool_dtype(dtype):
            return "boolean"
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return "timestamptz"
        return "float8" if pd.api.types.is_float_dtype(dtype) else "text"

    columns = ", ".join(f"{name} {sql_type(dtype)}" for name, dtype in frame.dtypes.items())
    conn.execute("create schema if not exists ml")  # migration 0014 creates it (ml.deployments)
    conn.execute(f"create table ml.training_dataset ({columns})")
    with conn.cursor().copy(f"copy ml.training_dataset ({', '.join(frame.columns)}) from stdin") as copy:
        for row in frame.itertuples(index=False):
            copy.write_row(row)


def train_on_hand_made_dataset(database, frame: pd.DataFrame) -> TrainOutcome:
    """``frame`` as ml.training_dataset, then a small real training run."""
    with database.connect() as conn:
        write_training_dataset(conn, frame)
    return run_training(TrainRequest(
        data_range="all", features=["cvd"],
        evaluation=EvaluationConfig(params=XGBoostParams(n_estimators=20, max_depth=2)),
    ))
