"""Benchmark `sniper ingest binance` on USD-M futures archives: rows/s and the loader's peak RSS.

Builds, in a temporary directory laid out like data.binance.vision, a bookTicker archive
of ``--rows`` updates (3 million by default, about a busy 2024 day of BTCUSDT) and a full
day of bookDepth (2,880 snapshots x 12 bands = 34,560 rows), both in the published layout
with their header and .CHECKSUM; starts a fresh embedded PostgreSQL there and runs the CLI
as a child process with ``--from-dir``. Peak RSS, wall and CPU seconds are measured as in
bench_ingest.py (the CLI's ru_maxrss from a wrapper process; CPU = CLI + database server).
A second run of each command shows the cost of a no-op re-run (ledger hit).

    .venv/bin/python bench/bench_ingest_futures.py
    .venv/bin/python bench/bench_ingest_futures.py --rows 1000000 --what bookTicker
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import time
import zipfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import psutil

from bench_ingest import SNIPER, count, measure

DAY = date(2024, 3, 27)  # inside bookTicker's published range (2023-05-16 .. 2024-03-30)
SYMBOL = "BTCUSDT"
BOOK_TICKER_HEADER = "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time"
BOOK_DEPTH_HEADER = "timestamp,percentage,depth,notional"
BANDS = (-5, -4, -3, -2, -1, -0.2, 0.2, 1, 2, 3, 4, 5)
SNAPSHOTS_PER_DAY = 2_880  # one every 30 s, as published


def day_start_ms() -> int:
    return int(datetime(DAY.year, DAY.month, DAY.day, tzinfo=timezone.utc).timestamp()) * 1000


def write_zip(root: Path, kind: str, lines) -> tuple[Path, int, int]:
    """``data/futures/um/daily/<kind>/...`` zip and .CHECKSUM from an iterable of lines; (zip, CSV bytes, rows)."""
    folder = root / "data/futures/um/daily" / kind / SYMBOL
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{SYMBOL}-{kind}-{DAY.isoformat()}"
    csv_path = root / f"{stem}.csv"
    rows = 0
    with csv_path.open("w") as out:
        for line in lines:
            out.write(line + "\n")
            rows += 1
    zip_path = folder / f"{stem}.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(csv_path, f"{stem}.csv")
    csv_bytes = csv_path.stat().st_size
    csv_path.unlink()
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    (folder / f"{stem}.zip.CHECKSUM").write_text(f"{digest}  {zip_path.name}\n")
    return zip_path, csv_bytes, rows - 1  # the header is not a row


def book_ticker_lines(rows: int):
    yield BOOK_TICKER_HEADER
    start, step = day_start_ms(), 86_400_000 / (rows + 1)
    for i in range(rows):
        bid = 65_000 + (i * 37 % 4_000) / 10
        t = start + int((i + 1) * step)
        yield (f"{3_800_000_000_000 + i * 2},{bid:.1f},{0.001 * (1 + i % 900):.3f},{bid + 0.1:.1f},"
               f"{0.002 * (1 + i % 450):.3f},{t},{t + 5}")


def book_depth_lines():
    yield BOOK_DEPTH_HEADER
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=timezone.utc)
    for s in range(SNAPSHOTS_PER_DAY):
        stamp = (start + timedelta(seconds=30 * s + 1)).strftime("%Y-%m-%d %H:%M:%S")
        for k, band in enumerate(BANDS):
            depth = 400 * abs(band) + s % 97 + k
            yield f"{stamp},{band:g},{depth:.8f},{depth * 65_000:.8f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3_000_000, help="bookTicker updates in the archive")
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--what", nargs="+", choices=["bookTicker", "bookDepth"], default=["bookTicker", "bookDepth"])
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="sniper-bench-futures-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if k != "SNIPER_DATABASE_URL"}
    env["SNIPER_DATA_DIR"] = str(home / "state")
    tables = {"bookTicker": "raw.l1_quotes", "bookDepth": "raw.depth_bands"}
    try:
        subprocess.run([SNIPER, "db", "start"], env=env, check=True, capture_output=True)
        version = subprocess.run([SNIPER, "db", "status"], env=env, capture_output=True, text=True).stdout.split(",")[1]
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"# bench_ingest_futures: um {SYMBOL} {DAY}, --from-dir, --chunk-rows {args.chunk_rows:,}, "
              f"embedded {version.strip()}, {psutil.cpu_count()} cores (load average {load} at start: shared with"
              f" other jobs), {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, Python {platform.python_version()},"
              f" pandas {pd.__version__}")
        print(f"{'input':<34} {'file MB':>8} {'rows':>11} {'seconds':>8} {'rows/s':>9} {'peak RSS MB':>12} {'CPU s':>7}")
        for kind in args.what:
            started = time.perf_counter()
            lines = book_ticker_lines(args.rows) if kind == "bookTicker" else book_depth_lines()
            zip_path, csv_bytes, rows_written = write_zip(home / "mirror", kind, lines)
            size_mb = zip_path.stat().st_size / 2**20
            print(f"# built {kind} archive in {time.perf_counter() - started:.0f} s: {rows_written:,} rows,"
                  f" {size_mb:.1f} MB zip, {csv_bytes / 2**20:.0f} MB CSV")
            command = [str(SNIPER), "ingest", "binance", "--market", "um", "--kind", kind, "--symbol", SYMBOL,
                       "--start", DAY.isoformat(), "--end", (DAY + timedelta(days=1)).isoformat(),
                       "--from-dir", str(home / "mirror"), "--chunk-rows", str(args.chunk_rows)]
            for label in (f"{kind} archive (um)", "  re-run (ledger hit)"):
                before = count(env, tables[kind])
                peak, seconds, cpu = measure(command, env, home)
                rows = count(env, tables[kind]) - before
                if "re-run" not in label and rows != rows_written:
                    raise SystemExit(f"{kind}: loaded {rows:,} rows of {rows_written:,}")
                rate = f"{rows / seconds:>9,.0f}" if rows else f"{'-':>9}"
                print(f"{label:<34} {size_mb:>8.1f} {rows:>11,} {seconds:>8.1f} {rate} {peak:>12.0f} {cpu:>7.1f}",
                      flush=True)
    finally:
        subprocess.run([SNIPER, "db", "stop"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
