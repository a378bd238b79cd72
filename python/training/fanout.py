"""Independent training jobs, run in this process or on a Dask cluster through Prefect's DaskTaskRunner.

A training run's walk-forward folds, leave-one-regime-out folds and the final model's two
sides share nothing: each is a pure function of its inputs (XGBoost seeded and on a fixed
number of threads, python/training/models.py; a fold's baseline draws keyed by its first
test day), so where a job runs cannot change what it returns, and the run is the same bit
for bit (tests/test_training_dask.py). The results come back in the jobs' order.

Where they run (``ParallelConfig``, settings ``SNIPER_DASK``, ``SNIPER_DASK_ADDRESS``,
``SNIPER_DASK_LOCAL_WORKERS``, or `sniper train --dask ... --dask-address ...`):
- ``dask_address``: an existing Dask scheduler (``tcp://host:8786``); its workers need this
  project installed at the same versions, and they report to the Prefect API of the run, so
  with a remote cluster point PREFECT_API_URL at a Prefect server they can reach.
- ``dask="local"``: a ``distributed.LocalCluster`` of ``local_workers`` single-threaded worker
  processes, started for the run and stopped after it.
- ``dask="off"``: one after the other in this process, Prefect not involved.
- ``dask="auto"`` (default): ``local`` on a host with at least ``AUTO_MIN_CORES`` cores, else
  ``off``. On the 2-core host this project targets the cluster is not worth it: both cores
  are already one XGBoost thread per worker plus the PostgreSQL server and Prefect's API,
  and each worker holds its own copy of the dataset (docs/training.md, "Folds on a Dask
  cluster", has the measurements).
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# ``auto`` starts a local cluster only on a host with at least this many cores.
AUTO_MIN_CORES = 4
DASK_ADDRESS = re.compile(r"^(tcp|tls|ucx|inproc)://[^\s/]+(:\d+)?$")


class ParallelConfig(BaseSettings):
    """Where a training run's independent jobs run (not part of the run's record: it cannot
    change the results)."""

    model_config = SettingsConfigDict(env_prefix="SNIPER_", extra="ignore", frozen=True)

    dask: Literal["auto", "local", "off"] = "auto"
    dask_address: str | None = None
    dask_local_workers: int = Field(default=2, ge=1, le=256)

    @field_validator("dask_address")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is not None and not DASK_ADDRESS.fullmatch(value):
            raise ValueError(f"{value!r} is not a Dask scheduler address such as tcp://host:8786")
        return value

    @property
    def mode(self) -> Literal["cluster", "local", "sequential"]:
        """What this configuration does on this host."""
        if self.dask_address is not None:
            return "cluster"
        if self.dask == "local" or (self.dask == "auto" and (os.cpu_count() or 1) >= AUTO_MIN_CORES):
            return "local"
        return "sequential"


@dataclass(frozen=True, eq=False)
class Shared:
    """An input several jobs read (the dataset): on Dask it travels to the cluster once, as the
    result of a task of its own, and each worker fetches it once, instead of once per job."""

    value: Any


@dataclass(frozen=True)
class _SharedRef:
    """Where a Shared input was in a job's arguments, as the job travels to a worker."""

    index: int


@dataclass(frozen=True)
class Job:
    """One independent piece of work: ``function(*args)``, a module-level function (Dask pickles
    it); an argument wrapped in ``Shared`` is passed unwrapped."""

    name: str
    function: Callable[..., Any]
    args: tuple


def run_jobs(jobs: Sequence[Job], config: ParallelConfig | None = None) -> list[Any]:
    """Every job's result, in the jobs' order."""
    config = config or ParallelConfig()
    if config.mode == "sequential" or not jobs:
        return [job.function(*(a.value if isinstance(a, Shared) else a for a in job.args)) for job in jobs]
    return _on_dask(list(jobs), config)


def _run(job: Job, shared: dict[int, Any]) -> Any:
    return job.function(*(shared[a.index] if isinstance(a, _SharedRef) else a for a in job.args))


def _share(value: Any) -> Any:
    return value


def _task_runner(config: ParallelConfig):
    from prefect_dask import DaskTaskRunner

    if config.mode == "cluster":
        return DaskTaskRunner(address=config.dask_address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": config.dask_local_workers, "threads_per_worker": 1, "processes": True,
                        "dashboard_address": None},
    )


def _on_dask(jobs: list[Job], config: ParallelConfig) -> list[Any]:
    """The jobs as Prefect tasks of a subflow whose task runner is Dask's.

    The jobs are closed over, not flow parameters: Prefect would send parameters (the dataset)
    to its API. Tasks keep no cache and no result: their inputs are data frames, hashing them
    would cost more than the job.
    """
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    for name in ("distributed", "prefect_dask"):  # cluster start and stop chatter
        logging.getLogger(name).setLevel(logging.ERROR)
    # Each job carries its rows (tens of MB for a demo-sized dataset): distributed warns about
    # every such task; the cost is measured in bench/bench_training_dask.py instead.
    warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
    run = task(_run, name="training-job", cache_policy=NO_CACHE, persist_result=False, log_prints=False)
    share = task(_share, name="training-input", cache_policy=NO_CACHE, persist_result=False)
    inputs: dict[int, Shared] = {}
    for job in jobs:
        for arg in job.args:
            if isinstance(arg, Shared):
                inputs.setdefault(id(arg), arg)
    index = {key: position for position, key in enumerate(inputs)}
    travelling = [
        (Job(job.name, job.function, tuple(_SharedRef(index[id(a)]) if isinstance(a, Shared) else a
                                           for a in job.args)),
         sorted({index[id(a)] for a in job.args if isinstance(a, Shared)}))
        for job in jobs
    ]

    @flow(name="training-jobs", task_runner=_task_runner(config), persist_result=False, validate_parameters=False)
    def training_jobs() -> list[Any]:
        # Dask resolves the input futures inside each job's `shared` mapping on its worker.
        sent = [share.submit(item.value) for item in inputs.values()]
        futures = [run.with_options(name=job.name).submit(job, {i: sent[i] for i in needs})
                   for job, needs in travelling]
        return [future.result() for future in futures]

    return training_jobs()
