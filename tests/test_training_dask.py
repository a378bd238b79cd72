"""Training on a Dask cluster (issue 15 item 5): the folds and the final fits as Prefect tasks on a
two-worker `distributed.LocalCluster` started here give the run the sequential run gives, bit
for bit: every summary figure, every stored metric, prediction and equity point, the same
model files. The dataset and the comparisons are tests/test_training_repeatable.py's.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from distributed import Client, LocalCluster, get_task_stream

from sniper.training.fanout import ParallelConfig
from sniper.training.pipeline import run_training
from tests.test_training_repeatable import REQUEST, RUN_VARIES, _same, _stored, warehouse  # noqa: F401 - fixture

# Six months (Jan-Jun 2024): one walk-forward fold (4 months train, 2 test), three left-out
# regimes, and the deployed model's long and short sides.
EXPECTED_JOBS = 1 + 3 + 2


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        with Client(local) as client:
            yield local, client


def test_training_on_a_two_worker_cluster_stores_the_sequential_run(warehouse, cluster):  # noqa: F811
    local, client = cluster
    sequential = run_training(REQUEST, ParallelConfig(dask="off"))
    with get_task_stream(client) as stream:
        distributed = run_training(REQUEST, ParallelConfig(dask_address=local.scheduler_address))
    # The jobs really ran on the cluster's worker processes.
    workers = {record["worker"] for record in stream.data}
    keys = [record["key"] for record in stream.data]
    assert sum(key.startswith("_run-") for key in keys) == EXPECTED_JOBS, keys
    # The dataset the folds read and the final fit's rows each travel to the cluster once.
    assert sum(key.startswith("_share-") for key in keys) == 2, keys
    assert workers <= set(local.scheduler_info["workers"]) and workers

    a, b = sequential.summary, distributed.summary
    assert a.overall.keys() == b.overall.keys()
    assert all(_same(a.overall[key], b.overall[key]) for key in a.overall), (a.overall, b.overall)
    assert a.overall["n_trades"] > 100
    assert a.gate.model_dump_json() == b.gate.model_dump_json()
    assert a.baseline_tests == b.baseline_tests
    pd.testing.assert_frame_equal(a.metric_rows, b.metric_rows, check_exact=True)

    runs = warehouse.frame("select * from evaluation.model_runs order by created_at").drop(columns=list(RUN_VARIES))
    assert len(runs) == 2
    for column in runs.columns:
        assert _same(runs[column].iloc[0], runs[column].iloc[1]), column
    keys = {"model_metrics": "evaluation, scope, scope_key",
            "predictions": "evaluation, fold, exchange, market, symbol, bucket_start_at, side",
            "equity_curve": "evaluation, fold, at"}
    for table, order in keys.items():
        stored = [_stored(warehouse, table, outcome.run_id, order) for outcome in (sequential, distributed)]
        assert len(stored[0]) > 0, table
        pd.testing.assert_frame_equal(stored[0], stored[1], check_exact=True, obj=table)
    for name in ("model_long.json", "model_short.json"):
        assert (sequential.artifact_dir / name).read_bytes() == (distributed.artifact_dir / name).read_bytes(), name
    metadata = [json.loads((o.artifact_dir / "metadata.json").read_text()) for o in (sequential, distributed)]
    assert {k: v for k, v in metadata[0].items() if k != "run_id"} == {
        k: v for k, v in metadata[1].items() if k != "run_id"}


def test_a_bad_dask_address_is_refused_in_one_line():
    from tests.conftest import run_cli

    result = run_cli("train", "--dask-address", "host:8786")
    assert result.returncode == 2
    assert result.stderr == ("sniper: error: invalid --dask-address: 'host:8786' is not a Dask scheduler address"
                             " such as tcp://host:8786\n")
