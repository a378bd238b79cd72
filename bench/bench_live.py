"""Benchmark the live 5-minute cycle: materialization, scoring, and bucket close to signal row.

A fresh embedded PostgreSQL in a temp dir; a synthetic market of one symbol over two days
(`--trades-per-day`), the first day materialized by the backfill (one day of history); a model
trained on a small hand-made dataset for the instrument and deployed live. Then the cycle runs
`--cycles` times, in process, each as the live-materialize deployment would run it at the close
of the next 5-minute bucket of the second day (``as_of`` = close + grace): it builds the bucket
(dbt, the backfill's build narrowed to the bucket), scores it, and records completed outcomes.

The ticks of the second day are in raw before the cycles start (the recorder's own cost is
bench_recorder.py's); every cycle reads them through the same windowed models as live.

Latency from bucket close to signal row = the grace the flow waits after a close (the recorder's
batches; 3 s, or less once every live span has passed the close) + the wall time from the
cycle's start to the signal row's commit (its created_at). The first cycle is a warm-up (it
also builds the last bucket of the first day) and is left out of the figures.

    .venv/bin/python bench/bench_live.py                               # 200k trades/day, 21 cycles
    .venv/bin/python bench/bench_live.py --trades-per-day 1000000 --cycles 25
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

SNIPER = Path(sys.executable).with_name("sniper")
SYMBOL = "BTCUSDT"
INSTRUMENT = ("synthetic", "spot", SYMBOL)


def prepare(home: Path, trades_per_day: int, first_day: date) -> None:
    env = {**os.environ, "SNIPER_DATA_DIR": str(home)}
    env.pop("SNIPER_DATABASE_URL", None)
    for command in (
        ["synth", "--symbols", SYMBOL, "--start", first_day.isoformat(), "--months", "1", "--days", "2",
         "--trades-per-day", str(trades_per_day)],
        ["backfill", "run", "--window-start", first_day.isoformat(), "--window-days", "1", "--sleep", "0"],
    ):
        done = subprocess.run([str(SNIPER), *command], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"sniper {' '.join(command)}: {done.stderr[-2000:]}")


def deploy_a_model() -> str:
    """A model for the instrument, trained on a hand-made ml.training_dataset (hourly rows, six
    months, wins leaning with the flow imbalance), deployed live."""
    from sniper.db.connection import connect
    from sniper.live.deployments import deploy
    from sniper.training.evaluate import EvaluationConfig
    from sniper.training.models import XGBoostParams
    from sniper.training.pipeline import TrainRequest, run_training

    rng = np.random.default_rng(1)
    entry = pd.date_range("2024-01-01", "2024-06-30 23:00", freq="1h", tz="UTC")
    flow = rng.uniform(-1, 1, len(entry))
    frame = pd.DataFrame({
        "exchange": INSTRUMENT[0], "market": INSTRUMENT[1], "symbol": INSTRUMENT[2],
        "bucket_start_at": entry - pd.Timedelta(minutes=5), "entry_at": entry,
        "month_regime": [("bull", "bear", "sideways")[m % 3] for m in entry.month],
        "long_net_return": np.where(rng.random(len(entry)) < 1 / (1 + np.exp(-3 * flow)), 0.003, -0.003),
        "long_exit_at": entry + pd.Timedelta(minutes=20),
        "short_net_return": np.where(rng.random(len(entry)) < 1 / (1 + np.exp(3 * flow)), 0.003, -0.003),
        "short_exit_at": entry + pd.Timedelta(minutes=20),
        "flow_imbalance": flow, "flow_imbalance_15m": flow / 2, "is_label_complete": True,
    })
    with connect(autocommit=True) as conn:
        conn.execute(
            "create table ml.training_dataset (exchange text, market text, symbol text, bucket_start_at timestamptz,"
            " entry_at timestamptz, month_regime text, long_net_return float8, long_exit_at timestamptz,"
            " short_net_return float8, short_exit_at timestamptz, flow_imbalance float8, flow_imbalance_15m float8,"
            " is_label_complete boolean)")
        with conn.cursor().copy(f"copy ml.training_dataset ({', '.join(frame.columns)}) from stdin") as copy:
            for row in frame.itertuples(index=False):
                copy.write_row(row)
    outcome = run_training(TrainRequest(data_range="all", features=["cvd"], evaluation=EvaluationConfig(
        params=XGBoostParams(n_estimators=20, max_depth=2))))
    with connect() as conn:
        # Paper or live score alike; paper needs no READY verdict from a hand-made dataset.
        deploy(conn, outcome.run_id, "paper", deployed_by="bench")
    return outcome.run_id


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q, method="linear"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trades-per-day", type=int, default=200_000)
    parser.add_argument("--cycles", type=int, default=21, help="measured cycles (one warm-up cycle more)")
    parser.add_argument("--grace", type=float, default=3.0, help="seconds the flow waits after a close")
    args = parser.parse_args()
    first_day = date(2024, 6, 3)
    home = Path(tempfile.mkdtemp(prefix="sniper-bench-live-", dir="/tmp"))
    os.environ["SNIPER_DATA_DIR"] = str(home)
    os.environ.pop("SNIPER_DATABASE_URL", None)
    from sniper.prefect_env import quiet_prefect, shutdown_prefect

    quiet_prefect()
    try:
        started = time.perf_counter()
        prepare(home, args.trades_per_day, first_day)
        run_id = deploy_a_model()
        print(f"# bench_live: 1 symbol, {args.trades_per_day:,} trades/day, 1 day of history materialized, "
              f"embedded PostgreSQL 18, {psutil.cpu_count()} cores, load average "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; set-up {time.perf_counter() - started:.0f} s",
              flush=True)
        from sniper.db.connection import connect
        from sniper.flows.live_materialize import live_materialize

        second_day = datetime.combine(first_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        print(f"{'cycle':>5} {'bucket':>6} {'built':>5} {'materialize s':>13} {'score s':>8} {'outcomes s':>10} "
              f"{'cycle s':>8} {'close->signal s':>15}", flush=True)
        figures = []
        for cycle in range(args.cycles + 1):
            bucket = second_day + timedelta(minutes=5 * cycle)
            as_of = bucket + timedelta(minutes=5, seconds=args.grace)
            wall_start = datetime.now(UTC)
            t0 = time.perf_counter()
            result = live_materialize(as_of=as_of, catch_up_hours=0.1)
            cycle_seconds = time.perf_counter() - t0
            with connect() as conn:
                created = conn.execute("select created_at from ml.entry_signals where run_id = %s and"
                                       " bucket_start_at = %s", (run_id, bucket)).fetchone()
            if created is None:
                raise SystemExit(f"cycle {cycle}: no signal row for {bucket}")
            latency = args.grace + (created[0] - wall_start).total_seconds()
            materialize = sum(run.seconds for run in result.runs)
            score = result.score.scoring_seconds
            outcomes = result.score.outcomes_seconds
            label = "warm-up" if cycle == 0 else str(cycle)
            print(f"{label:>5} {bucket:%H:%M} {result.buckets:>5} {materialize:>13.1f} {score:>8.2f} {outcomes:>10.1f} "
                  f"{cycle_seconds:>8.1f} {latency:>15.1f}", flush=True)
            if cycle:
                figures.append((materialize, score, outcomes, cycle_seconds, latency))
        columns = list(zip(*figures, strict=True))
        names = ("materialization s", "scoring s", "outcomes s", "whole cycle s", "close -> signal s")
        print(f"# over {len(figures)} cycles: {'':>10} {'median':>8} {'p95':>8} {'max':>8}")
        for name, values in zip(names, columns, strict=True):
            print(f"# {name:>28} {statistics.median(values):>8.2f} {percentile(list(values), 95):>8.2f} "
                  f"{max(values):>8.2f}")
    finally:
        shutdown_prefect()
        subprocess.run([str(SNIPER), "db", "stop"], env={**os.environ}, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
