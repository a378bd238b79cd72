"""Benchmark the backfill: host peak RSS of `sniper backfill run` at two tick rates (10x apart).

Each size gets a fresh embedded PostgreSQL in a temp dir, a one-month synthetic market for
one symbol, then two 7-day windows. Only the flow's own Python process is measured (not
the Prefect temporary API server it starts): ticks stay in PostgreSQL, so its RSS must not
grow with the tick rate.

    .venv/bin/python bench/bench_backfill.py                        # 20k and 200k trades/day
    .venv/bin/python bench/bench_backfill.py --rates 50000 500000
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure  # noqa: E402

SNIPER = Path(sys.executable).with_name("sniper")


def run(rate: int) -> tuple[float, float]:
    home = Path(tempfile.mkdtemp(prefix="sniper-bench-backfill-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if k != "SNIPER_DATABASE_URL"}
    env["SNIPER_DATA_DIR"] = str(home)
    try:
        subprocess.run([SNIPER, "synth", "--symbols", "BTCUSDT", "--start", "2024-06-03", "--months", "1",
                        "--days", "14", "--trades-per-day", str(rate)], env=env, check=True, capture_output=True)
        flow_only = measure([str(SNIPER), "backfill", "run", "--weeks", "2", "--sleep", "0"], env)
        if flow_only.returncode != 0:
            raise SystemExit(flow_only.stderr[-2000:])
        return flow_only.seconds, flow_only.peak_rss_mb
    finally:
        subprocess.run([SNIPER, "db", "stop"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", nargs="+", type=int, default=[20_000, 200_000], help="trades per day")
    args = parser.parse_args()
    print(f"# bench_backfill: 1 symbol, 14 days, 2 windows of 7 days, embedded PostgreSQL 18, "
          f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM")
    print(f"{'trades/day':>11} {'ticks in window':>16} {'seconds':>8} {'flow peak RSS MB':>17}")
    for rate in args.rates:
        seconds, rss = run(rate)
        print(f"{rate:>11,} {rate * 7:>16,} {seconds:>8.1f} {rss:>17.0f}", flush=True)


if __name__ == "__main__":
    main()
