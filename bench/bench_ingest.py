"""Benchmark `sniper ingest`: rows/s and the loader process's peak RSS on a multi-million-row file.

Builds the input in a temporary directory (a Binance spot trades archive laid out as on
data.binance.vision with its .CHECKSUM, and/or a gzip websocket recording of trade
messages), starts a fresh embedded PostgreSQL there, and runs the CLI as a child
process. Peak RSS is the child's ru_maxrss from resource.getrusage(RUSAGE_CHILDREN),
read in a small wrapper process that has no other children, so nothing else counts.
The second run of the same command shows the cost of a no-op re-run (ledger hit).
"CPU s" is the work itself, user + system seconds of the CLI (its rusage) and of the
database server (the postmaster's own and its exited backends' times, before and after):
on a shared machine the wall time follows the other jobs, the CPU seconds much less.

    .venv/bin/python bench/bench_ingest.py                          # 3M-row archive and 3M-line recording
    .venv/bin/python bench/bench_ingest.py --rows 1000000 --what archive --chunk-rows 100000
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import psutil

SNIPER = Path(sys.executable).with_name("sniper")
DAY = date(2024, 6, 3)
SYMBOL = "BTCUSDT"
# Runs one command and prints its peak RSS (KiB on Linux) and wall seconds; stdout/stderr pass through to files.
WRAPPER = """
import resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
elapsed = time.perf_counter() - started
if code.returncode != 0:
    sys.stderr.write(code.stderr)
    sys.exit(code.returncode)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(usage.ru_maxrss, elapsed, usage.ru_utime + usage.ru_stime)
"""


def day_start_ms() -> int:
    return int(datetime(DAY.year, DAY.month, DAY.day, tzinfo=timezone.utc).timestamp()) * 1000


def trade_values(i: int) -> tuple[float, float, bool]:
    price = 60_000 + (i * 37 % 2_000) + (i % 100) / 100
    qty = 0.001 * (1 + i % 250)
    return price, qty, i % 3 == 0


def build_archive(root: Path, rows: int) -> tuple[Path, int]:
    """A spot trades archive for DAY with ``rows`` trades, plus its .CHECKSUM; returns (zip path, CSV bytes)."""
    folder = root / "data/spot/daily/trades" / SYMBOL
    folder.mkdir(parents=True)
    stem = f"{SYMBOL}-trades-{DAY.isoformat()}"
    csv_path = root / f"{stem}.csv"
    step = 86_400_000 / (rows + 1)
    start = day_start_ms()
    with csv_path.open("w") as out:
        for i in range(rows):
            price, qty, maker = trade_values(i)
            out.write(f"{i + 1},{price:.8f},{qty:.8f},{price * qty:.8f},{start + int((i + 1) * step)},{maker},True\n")
    zip_path = folder / f"{stem}.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(csv_path, f"{stem}.csv")
    csv_bytes = csv_path.stat().st_size
    csv_path.unlink()
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    (folder / f"{stem}.zip.CHECKSUM").write_text(f"{digest}  {zip_path.name}\n")
    return zip_path, csv_bytes


def build_recording(root: Path, rows: int) -> Path:
    """A gzip recording of ``rows`` USD-M trade messages, in the captures' line format."""
    path = root / "usdm_btcusdt_bench.gz"
    step = 86_400_000 / (rows + 1)
    start = day_start_ms()
    with gzip.open(path, "wt", compresslevel=6) as out:
        for i in range(rows):
            price, qty, maker = trade_values(i)
            t = start + int((i + 1) * step)
            data = {"e": "trade", "E": t, "T": t, "s": SYMBOL, "t": i + 1, "p": f"{price:.2f}", "q": f"{qty:.3f}",
                    "X": "MARKET", "m": maker}
            out.write(f"{(t - 1200) * 1_000_000} {json.dumps({'stream': 'btcusdt@trade', 'data': data}, separators=(',', ':'))}\n")
    return path


def server_cpu_seconds(home: Path) -> float:
    """User + system seconds the database server has used so far (exited backends included)."""
    [pid_file] = (home / "state").rglob("postmaster.pid")
    times = psutil.Process(int(pid_file.read_text().split()[0])).cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def measure(command: list[str], env: dict[str, str], home: Path) -> tuple[float, float, float]:
    """(peak RSS in MiB, wall seconds, CPU seconds of the CLI and the server) of one CLI run."""
    server_before = server_cpu_seconds(home)
    done = subprocess.run([sys.executable, "-c", WRAPPER, *command], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:4])} failed: {done.stderr.strip()}")
    peak_kib, seconds, cli_cpu = done.stdout.split()
    return int(peak_kib) / 1024, float(seconds), float(cli_cpu) + server_cpu_seconds(home) - server_before


def count(env: dict[str, str], table: str) -> int:
    code = f"from sniper.db.connection import connect\nwith connect() as c: print(c.execute('select count(*) from {table}').fetchone()[0])"
    return int(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--what", nargs="+", choices=["archive", "recording"], default=["archive", "recording"])
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="sniper-bench-ingest-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if k != "SNIPER_DATABASE_URL"}
    env["SNIPER_DATA_DIR"] = str(home / "state")
    try:
        subprocess.run([SNIPER, "db", "start"], env=env, check=True, capture_output=True)
        version = subprocess.run([SNIPER, "db", "status"], env=env, capture_output=True, text=True).stdout.split(",")[1]
        print(f"# bench_ingest: {args.rows:,} rows per file, --chunk-rows {args.chunk_rows:,}, embedded{version.strip() and ' ' + version.strip()},"
              f" {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM,"
              f" Python {platform.python_version()}, pandas {pd.__version__}")
        print(f"{'input':<34} {'file MB':>8} {'rows':>11} {'seconds':>8} {'rows/s':>9} {'peak RSS MB':>12} {'CPU s':>7}")
        if "archive" in args.what:
            started = time.perf_counter()
            zip_path, csv_bytes = build_archive(home / "mirror", args.rows)
            print(f"# built archive in {time.perf_counter() - started:.0f} s: {zip_path.stat().st_size / 2**20:.0f} MB zip,"
                  f" {csv_bytes / 2**20:.0f} MB CSV")
            command = [str(SNIPER), "ingest", "binance", "--market", "spot", "--kind", "trades", "--symbol", SYMBOL,
                       "--start", DAY.isoformat(), "--end", date.fromordinal(DAY.toordinal() + 1).isoformat(),
                       "--from-dir", str(home / "mirror"), "--chunk-rows", str(args.chunk_rows)]
            for label in ("binance archive (spot trades)", "  re-run (ledger hit)"):
                peak, seconds, cpu = measure(command, env, home)
                rows = count(env, "raw.trades") if "re-run" not in label else 0
                rate = f"{rows / seconds:>9,.0f}" if rows else f"{'-':>9}"
                print(f"{label:<34} {zip_path.stat().st_size / 2**20:>8.0f} {rows:>11,} {seconds:>8.1f} {rate} {peak:>12.0f}"
                      f" {cpu:>7.1f}", flush=True)
        if "recording" in args.what:
            started = time.perf_counter()
            recording = build_recording(home, args.rows)
            print(f"# built recording in {time.perf_counter() - started:.0f} s: {recording.stat().st_size / 2**20:.0f} MB gzip")
            before = count(env, "raw.trades")
            command = [str(SNIPER), "ingest", "recording", str(recording), "--chunk-rows", str(args.chunk_rows)]
            peak, seconds, cpu = measure(command, env, home)
            rows = count(env, "raw.trades") - before
            print(f"{'websocket recording (um trades)':<34} {recording.stat().st_size / 2**20:>8.0f} {rows:>11,} "
                  f"{seconds:>8.1f} {rows / seconds:>9,.0f} {peak:>12.0f} {cpu:>7.1f}", flush=True)
    finally:
        subprocess.run([SNIPER, "db", "stop"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
