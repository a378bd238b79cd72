"""Repeatable runs: the same data, code and configuration give the same run, bit for bit.

Two `run_training` calls on one hand-made `ml.training_dataset` (one instrument, hourly
entries over six months, a planted signal so that trades, thresholds, baselines and SPA
all have something to do) must store the same figures: every column of the run row but its
id, time and artifact folder; every metric, prediction and equity point; the same model
files. What could differ between the two is seeded: XGBoost (`seed`, `nthread`), the
baselines' random entries, SPA's bootstrap.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sniper.settings import get_settings
from sniper.training.evaluate import EvaluationConfig
from sniper.training.models import XGBoostEntryModel, XGBoostParams
from sniper.training.pipeline import TrainRequest, run_training
from tests.hand_made_training import write_training_dataset

REGIMES = {1: "bull", 2: "bear", 3: "sideways", 4: "bull", 5: "bear", 6: "sideways"}
REQUEST = TrainRequest(
    data_range="all", features=["ofi"],
    evaluation=EvaluationConfig(params=XGBoostParams(n_estimators=25, max_depth=2)),
)
RUN_VARIES = ("run_id", "created_at", "artifact_dir")  # the only columns two runs may differ in


def dataset(seed: int = 3, edge: float = 1.5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    entry = pd.date_range("2024-01-01", "2024-06-30 23:00", freq="1h", tz="UTC")
    signal = rng.standard_normal(len(entry))
    long_wins = rng.random(len(entry)) < 1 / (1 + np.exp(-edge * signal))
    short_wins = rng.random(len(entry)) < 1 / (1 + np.exp(edge * signal))
    return pd.DataFrame({
        "exchange": "test",
        "market": "spot",
        "symbol": "AAAUSDT",
        "bucket_start_at": entry - pd.Timedelta(minutes=5),
        "entry_at": entry,
        "month_regime": [REGIMES[month] for month in entry.month],
        "long_net_return": np.where(long_wins, 0.003, -0.003) + rng.normal(0, 0.0005, len(entry)),
        "long_exit_at": entry + pd.Timedelta(minutes=20),
        "short_net_return": np.where(short_wins, 0.003, -0.003) + rng.normal(0, 0.0005, len(entry)),
        "short_exit_at": entry + pd.Timedelta(minutes=20),
        "ofi_normalized": signal,
        "ofi_normalized_15m": rng.standard_normal(len(entry)),
        "is_label_complete": True,
    })


@pytest.fixture
def warehouse(database, tmp_path, monkeypatch):
    """The one table training reads, filled by hand; artifacts under a temp data dir."""
    monkeypatch.setenv("SNIPER_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    frame = dataset()
    with database.connect() as conn:
        write_training_dataset(conn, frame)
    yield database
    get_settings.cache_clear()


def _same(left, right) -> bool:
    """Equal, NaN equal to NaN (a figure undefined twice is the same figure)."""
    if isinstance(left, float) and isinstance(right, float):
        return (math.isnan(left) and math.isnan(right)) or left == right
    return left == right


def _stored(db, table: str, run_id: str, order: str) -> pd.DataFrame:
    return db.frame(f"select * from evaluation.{table} where run_id = %s order by {order}", (run_id,)).drop(
        columns=["run_id"])


def test_training_twice_stores_the_same_run(warehouse):
    first, second = run_training(REQUEST), run_training(REQUEST)
    assert first.run_id != second.run_id

    # In memory: every headline figure, every criterion, every metric row, every baseline test.
    a, b = first.summary, second.summary
    assert a.overall.keys() == b.overall.keys()
    assert all(_same(a.overall[key], b.overall[key]) for key in a.overall), (a.overall, b.overall)
    assert a.overall["n_trades"] > 100 and not math.isnan(a.overall["pbo"]) and not math.isnan(a.overall["spa_p_value"])
    assert a.gate.model_dump_json() == b.gate.model_dump_json()
    assert a.baseline_tests == b.baseline_tests
    pd.testing.assert_frame_equal(a.metric_rows, b.metric_rows, check_exact=True)

    # In the database: the run row, metrics, predictions, equity curves.
    runs = warehouse.frame("select * from evaluation.model_runs order by created_at").drop(columns=list(RUN_VARIES))
    assert len(runs) == 2
    for column in runs.columns:
        assert _same(runs[column].iloc[0], runs[column].iloc[1]), column
    keys = {"model_metrics": "evaluation, scope, scope_key",
            "predictions": "evaluation, fold, exchange, market, symbol, bucket_start_at, side",
            "equity_curve": "evaluation, fold, at"}
    for table, order in keys.items():
        stored = [_stored(warehouse, table, outcome.run_id, order) for outcome in (first, second)]
        assert len(stored[0]) > 0, table
        pd.testing.assert_frame_equal(stored[0], stored[1], check_exact=True, obj=table)

    # The saved models, byte for byte, and their metadata but for the run id.
    for name in ("model_long.json", "model_short.json"):
        assert (first.artifact_dir / name).read_bytes() == (second.artifact_dir / name).read_bytes(), name
    metadata = [json.loads((outcome.artifact_dir / "metadata.json").read_text()) for outcome in (first, second)]
    assert {k: v for k, v in metadata[0].items() if k != "run_id"} == {k: v for k, v in metadata[1].items()
                                                                      if k != "run_id"}


def test_xgboost_on_two_threads_is_repeatable_too():
    frame = dataset()
    features = frame[["ofi_normalized", "ofi_normalized_15m"]]
    wins = (frame["long_net_return"] > 0).to_numpy()
    params = XGBoostParams(n_estimators=25, max_depth=2, n_jobs=2)
    first = XGBoostEntryModel(params).fit(features, wins).win_probability(features)
    second = XGBoostEntryModel(params).fit(features, wins).win_probability(features)
    assert np.array_equal(first, second)
