"""Benchmark `sniper synth`: trades/s and the Python process's peak RSS at two (or more) sizes.

Each size runs `sniper synth` as a child process into a fresh embedded PostgreSQL in a
temporary directory; RSS is sampled every 20 ms with psutil. Flat RSS across sizes is
the property that matters: the generator streams an hour-span at a time.

    .venv/bin/python bench/bench_synth.py                  # 1M and 10M trades
    .venv/bin/python bench/bench_synth.py --sizes 1:1000000 25:2000000   # days:trades_per_day (50M)
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

SNIPER = Path(sys.executable).with_name("sniper")


def run_size(days: int, trades_per_day: int) -> dict:
    home = Path(tempfile.mkdtemp(prefix="sniper-bench-synth-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if k != "SNIPER_DATABASE_URL"}
    env["SNIPER_DATA_DIR"] = str(home)
    try:
        subprocess.run([SNIPER, "db", "start"], env=env, check=True, capture_output=True)
        started = time.perf_counter()
        child = subprocess.Popen(
            [SNIPER, "synth", "--symbols", "BTCUSDT", "--start", "2024-06-01", "--months", "12",
             "--days", str(days), "--trades-per-day", str(trades_per_day)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        process = psutil.Process(child.pid)
        peak = 0
        while child.poll() is None:
            try:
                peak = max(peak, process.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        out, err = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"synth failed: {err.strip()}")
        trades = _count(env)
        return {"days": days, "trades_per_day": trades_per_day, "trades": trades, "seconds": elapsed,
                "peak_rss_mb": peak / 2**20, "summary": out.strip()}
    finally:
        subprocess.run([SNIPER, "db", "stop"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def _count(env: dict) -> int:
    code = "from sniper.db.connection import connect\nwith connect() as c: print(c.execute('select count(*) from raw.trades').fetchone()[0])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1:1000000", "10:1000000"], help="days:trades_per_day")
    args = parser.parse_args()
    print(f"# bench_synth: 1 symbol, embedded PostgreSQL 18, {psutil.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, Python {platform.python_version()}")
    print(f"{'trades':>12} {'days':>5} {'trades/day':>11} {'seconds':>8} {'trades/s':>10} {'peak RSS MB':>12}")
    for size in args.sizes:
        days, per_day = (int(part) for part in size.split(":"))
        result = run_size(days, per_day)
        print(f"{result['trades']:>12,} {days:>5} {per_day:>11,} {result['seconds']:>8.1f} "
              f"{result['trades'] / result['seconds']:>10,.0f} {result['peak_rss_mb']:>12.0f}", flush=True)


if __name__ == "__main__":
    main()
