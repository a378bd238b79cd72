"""Benchmark training's fan-out: the folds and final fits sequentially vs on a local Dask cluster.

A demo-sized dataset made here (two instruments, eight months of 5-minute entries, bull, bear
and sideways months, twelve feature columns of which one carries a planted edge), the default
evaluation (XGBoost 200 trees, depth 3, one thread per fit), and the jobs a training run fans
out (python/training/fanout.py: every fold plus the final model's two sides), run:

- sequentially in this process (``--dask off``);
- on a ``distributed.LocalCluster`` of N single-threaded workers started for the run
  (``--dask local``), the cluster's start and stop included, as `sniper train` pays them (the
  Prefect API's start is not: a training run already has it);

and checks that both give the same fold results. Prints wall times, the speed-up, the
machine's load average (the cores are shared) and the peak RSS of this process and of the
workers.

    .venv/bin/python bench/bench_training_dask.py [--workers 2] [--months 8]
"""

from __future__ import annotations

import argparse
import os
import platform
import threading
import time

import numpy as np
import pandas as pd
import psutil

REGIMES = ("bull", "bear", "sideways")
FEATURES = [f"feature_{i}" for i in range(12)]


def dataset(months: int, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for instrument in ("synthetic:spot:BTCUSDT", "synthetic:spot:ETHUSDT"):
        entry = pd.date_range("2024-01-01", periods=months * 30 * 288, freq="5min", tz="UTC")
        signal = rng.standard_normal(len(entry))
        wins_long = rng.random(len(entry)) < 1 / (1 + np.exp(-0.4 * signal))
        wins_short = rng.random(len(entry)) < 1 / (1 + np.exp(0.4 * signal))
        month_index = (entry.year - 2024) * 12 + entry.month - 1
        frame = pd.DataFrame({
            "instrument": instrument,
            "bucket_start_at": entry - pd.Timedelta(minutes=5),
            "entry_at": entry,
            "month_regime": [REGIMES[m % 3] for m in month_index],
            "long_net_return": np.where(wins_long, 0.003, -0.003) + rng.normal(0, 0.0005, len(entry)),
            "long_exit_at": entry + pd.Timedelta(minutes=30),
            "short_net_return": np.where(wins_short, 0.003, -0.003) + rng.normal(0, 0.0005, len(entry)),
            "short_exit_at": entry + pd.Timedelta(minutes=30),
            FEATURES[0]: signal,
            **{name: rng.standard_normal(len(entry)) for name in FEATURES[1:]},
        })
        frames.append(frame)
    return pd.concat(frames).sort_values(["entry_at", "instrument"]).reset_index(drop=True)


class PeakRss:
    """Samples the RSS of this process and of its children (the workers) every 50 ms."""

    def __init__(self) -> None:
        self.own = self.children = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                self.own = max(self.own, me.memory_info().rss)
                self.children = max(self.children, sum(c.memory_info().rss for c in me.children(recursive=True)))
            except psutil.Error:
                pass
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--months", type=int, default=8)
    args = parser.parse_args()
    from sniper.prefect_env import quiet_prefect

    quiet_prefect()
    from sniper.training.evaluate import SIDES, EvaluationConfig, fit_side, fold_jobs, usable_rows
    from sniper.training.fanout import Job, ParallelConfig, Shared, run_jobs

    data = dataset(args.months)
    config = EvaluationConfig()
    final = usable_rows(data, FEATURES, config)
    final_rows = Shared(final)  # both sides read the same rows: sent to the cluster once
    jobs = [*fold_jobs(data, FEATURES, config),
            *(Job(f"final-{side}", fit_side, (final_rows, FEATURES, config, side)) for side in SIDES)]
    print(f"# bench_training_dask: {len(data):,} rows x {len(FEATURES)} features ({data.memory_usage().sum() / 2**20:.0f}"
          f" MB), {len(jobs)} jobs ({len(jobs) - 2} folds + 2 final sides), XGBoost {config.params.n_estimators} trees,"
          f" nthread {config.params.n_jobs}; {platform.node()}, {psutil.cpu_count()} cores")

    # `sniper train` runs inside a flow, its Prefect API already up: start it before timing.
    from prefect import flow

    started = time.perf_counter()
    flow(lambda: None, name="warm-up")()
    print(f"Prefect API start (not counted below): {time.perf_counter() - started:.1f} s")
    runs = {}
    for label, parallel in (("sequential", ParallelConfig(dask="off")),
                            (f"local cluster, {args.workers} workers", ParallelConfig(
                                dask="local", dask_local_workers=args.workers))):
        load = os.getloadavg()[0]
        with PeakRss() as rss:
            started = time.perf_counter()
            results = run_jobs(jobs, parallel)
            seconds = time.perf_counter() - started
        runs[label] = (seconds, results)
        print(f"{label:<28} {seconds:7.1f} s   load average before {load:4.1f}   peak RSS: this process "
              f"{rss.own / 2**20:5.0f} MB, workers {rss.children / 2**20:5.0f} MB")
    (first, a), (second, b) = runs.values()
    same = all(
        x.threshold == y.threshold and x.scored.equals(y.scored) and x.trades.equals(y.trades)
        for x, y in zip(a[:-2], b[:-2], strict=True)
    ) and all(np.array_equal(x.win_probability(final[FEATURES]), y.win_probability(final[FEATURES]))
              for x, y in zip(a[-2:], b[-2:], strict=True))
    print(f"speed-up {first / second:.2f}x; same fold results and final models: {same}")
    if not same:
        raise SystemExit("the cluster's results differ from the sequential run")


if __name__ == "__main__":
    main()
