"""Fixed cost of one backfill window: dbt and Prefect around the SQL (issue 15, item 4).

A throwaway embedded PostgreSQL (a temp dir, removed at the end) holds one symbol's
synthetic week (--trades-per-day, default 2,000). After one preparing build (the tables
exist), each window below is built --repeat times, as the backfill builds it (`dbt build
--select candles+ --exclude path:models/ml`, unit tests excluded, eager indirect
selection, force_recompute so that every repetition does its SQL again), three ways, all
inside one Prefect flow (its start-up excluded: timed inside the flow) as the backfill runs:

- prefect-dbt (before): prefect-dbt's PrefectDbtRunner, each dbt node a Prefect task, dbt
  parsing the project again for every window (its vars changed), as the backfill did until
  the parsed-once path;
- plain dbt: dbt's own runner (sniper.warehouse.invoke_dbt), parsing again every window;
- parsed once (now): sniper.warehouse.invoke_dbt_parsed, as the flows call dbt: it parses the project once per
  process and hands every window's command a copy of that manifest.

Per window and way it prints the median wall time and the sum of the nodes' execution
times as dbt reports them (they overlap: dbt runs nodes on several threads). The empty
window's wall time is the fixed cost the target (< 5 s per window) is about: no SQL there
has rows to work on. Windows: an empty one (a day without ticks) and a one-day window.

    .venv/bin/python bench/bench_window_overhead.py [--repeat 3] [--trades-per-day 2000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg

from sniper.db.embedded import EmbeddedCluster
from sniper.db.scratch import create_scratch_database
from sniper.dbt_vars import ProjectVars
from sniper.settings import get_settings
from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from sniper.warehouse import invoke_dbt

START = date(2024, 6, 3)  # a Monday
WINDOWS = {
    "empty window (no ticks)": ProjectVars(window_start=date(2024, 5, 27), window_days=1, force_recompute=True),
    "one-day window": ProjectVars(window_start=START, window_days=1, force_recompute=True),
}


def build_args(window: ProjectVars) -> list[str]:
    from sniper.flows.backfill import NOT_PER_WINDOW, WINDOWED_SELECTION

    return ["build", "--select", WINDOWED_SELECTION, "--exclude", NOT_PER_WINDOW, "--exclude-resource-type",
            "unit_test", "--indirect-selection", "eager", "--quiet", *window.dbt_args()]


def sql_seconds(result) -> float:
    return sum(float(getattr(node, "execution_time", 0) or 0) for node in result.result or [])


def prefect_dbt(args: list[str]):
    """The backfill's dbt call before the parsed-once path."""
    from dbt_common.events.base_types import EventLevel
    from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings

    from sniper.warehouse import dbt_connection_env

    project_dir = get_settings().project_dir
    settings = PrefectDbtSettings(project_dir=project_dir, profiles_dir=project_dir, log_level=EventLevel.WARN)
    with dbt_connection_env():
        return PrefectDbtRunner(settings=settings, raise_on_failure=True, disable_assets=True).invoke(args)


def plain_dbt(args: list[str]):
    result = invoke_dbt(args)
    if not result.success:
        raise SystemExit(f"dbt build failed: {result.exception}")
    return result


def measure_all(windows: list[ProjectVars]) -> dict[str, list[tuple[float, float]]]:
    from prefect import flow

    from sniper.warehouse import invoke_dbt_parsed

    ways = {"prefect-dbt (before)": prefect_dbt, "plain dbt": plain_dbt, "parsed once (now)": invoke_dbt_parsed}

    @flow(name="bench-window-overhead")
    def measure() -> dict[str, list[tuple[float, float]]]:
        timings: dict[str, list[tuple[float, float]]] = {}
        for way, invoke in ways.items():
            for window in windows:
                started = time.perf_counter()
                result = invoke(build_args(window))
                timings.setdefault(way, []).append((time.perf_counter() - started, sql_seconds(result)))
        return timings

    return measure()


def report(label: str, way: str, runs: list[tuple[float, float]]) -> None:
    wall = statistics.median(t[0] for t in runs)
    nodes = statistics.median(t[1] for t in runs)
    print(f"{label:>26} {way:>21} {wall:>7.2f} {nodes:>7.2f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--trades-per-day", type=int, default=2_000)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    from sniper.prefect_env import quiet_prefect

    quiet_prefect()  # no telemetry (no internet here), Prefect's console quiet
    root = Path(tempfile.mkdtemp(prefix="sniper-bench-window-", dir="/tmp"))
    os.environ |= {"SNIPER_DATA_DIR": str(root), "DBT_TARGET_PATH": str(root / "target"),
                   "DBT_LOG_PATH": str(root / "logs")}
    cluster = EmbeddedCluster(root / "pgdata")
    cluster.start()
    try:
        _, url = create_scratch_database(cluster, "window")
        os.environ["SNIPER_DATABASE_URL"] = url
        get_settings.cache_clear()
        with psycopg.connect(url, autocommit=True) as conn:
            generate(conn, SynthConfig(symbols=["BTCUSDT"], start=START, months=1, days=7,
                                       trades_per_day=args.trades_per_day))
        started = time.perf_counter()
        first = invoke_dbt(["run", "--select", "staging", "candles+", "--quiet",
                            *ProjectVars(window_start=START, window_days=7).dbt_args()])
        if not first.success:
            raise SystemExit(f"preparing build failed: {first.exception}")
        print(f"# bench_window_overhead: 1 symbol, {args.trades_per_day:,} trades/day (and L1, depth, options) for"
              f" 7 days from {START}; preparing build (tables created, first parse) {time.perf_counter() - started:.1f} s;"
              f" {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {args.repeat} repetitions, medians")
        print(f"{'window':>26} {'runner':>21} {'wall s':>7} {'nodes s':>7}")
        # One flow (one temporary Prefect server) for every measurement; the windows alternate,
        # so that every call has vars other than the previous one's, as in a backfill.
        windows = [window for _ in range(args.repeat) for window in WINDOWS.values()]
        for way, timings in measure_all(windows).items():
            for index, label in enumerate(WINDOWS):
                report(label, way, timings[index::len(WINDOWS)])
    finally:
        from sniper.prefect_env import shutdown_prefect

        shutdown_prefect()  # prefect-dbt's node tasks still emitting events would abort the exit
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
