"""Benchmark the cold tier: hot bytes per raw row (PostgreSQL) vs cold bytes per row (Parquet).

Generates one synthetic week of one symbol (`sniper synth`, the existing writer) into a fresh
embedded PostgreSQL under a temporary directory, then per raw table of that week:

- hot: pg_total_relation_size of the week partition (heap, TOAST, primary key, BRIN) / rows;
- cold: the cold tier's own export of the week (python/cold/move.py: COPY -> Parquet, zstd,
  read back and verified), file size / rows; then the step that records the files and drops
  the partition, and the restore of the week (one transaction), each timed.

The restored rows are compared with the originals by count and by an order-independent sum
of hashes of every row (PostgreSQL's own hashtext over the row's text), so the round trip is
checked, not assumed. Target (issue 15): cold bytes per row at most 1/8 of hot.

    .venv/bin/python bench/bench_cold.py                          # 100,000 trades a day, one week
    .venv/bin/python bench/bench_cold.py --trades-per-day 400000
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
from datetime import date
from pathlib import Path

import psutil

SNIPER = str(Path(sys.executable).with_name("sniper"))
WEEK = date(2024, 6, 3)
KINDS = ("trades", "l1_quotes", "depth_bands")


def fingerprint(conn, kind: str) -> tuple[int, int]:
    """Rows of the week and the sum of a hash of each whole row: equal iff the same multiset
    of rows (up to hash collisions)."""
    return conn.execute(
        f"select count(*), coalesce(sum(hashtext(t::text)::bigint), 0) from raw.{kind} as t"  # noqa: S608
        " where ts >= %s and ts < %s + interval '7 days'",
        (WEEK, WEEK),
    ).fetchone()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trades-per-day", type=int, default=100_000)
    parser.add_argument("--symbol", default="BTCUSDT")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="sniper-bench-cold-", dir="/tmp"))
    env = {**{k: v for k, v in os.environ.items() if k != "SNIPER_DATABASE_URL"}, "SNIPER_DATA_DIR": str(home)}
    os.environ.update({"SNIPER_DATA_DIR": str(home)})
    os.environ.pop("SNIPER_DATABASE_URL", None)
    try:
        started = time.perf_counter()
        subprocess.run([SNIPER, "synth", "--symbols", args.symbol, "--start", f"{WEEK}", "--days", "7",
                        "--trades-per-day", str(args.trades_per_day), "--seed", "7"],
                       env=env, check=True, capture_output=True)
        synth_seconds = time.perf_counter() - started
        run(args, home, synth_seconds)
    finally:
        subprocess.run([SNIPER, "db", "stop"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def run(args, home: Path, synth_seconds: float) -> None:
    from sniper.cold.config import ColdConfig
    from sniper.cold.kinds import raw_kind
    from sniper.cold.move import export_verified, finalize
    from sniper.cold.restore import restore_files
    from sniper.cold.store import ColdStore
    from sniper.db.connection import connect
    from sniper.instruments import Instrument

    instrument = Instrument("synthetic", "spot", args.symbol)
    store = ColdStore(ColdConfig().resolved_store_url)
    print(f"# bench_cold: one week of synthetic {args.symbol} ({args.trades_per_day:,} trades/day, "
          f"generated in {synth_seconds:.0f} s), {platform.node()}, {psutil.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; store {store.url}")
    rows = []
    with connect(autocommit=True) as conn:
        version = conn.execute("show server_version").fetchone()[0]
        files, before = [], {}
        for name in KINDS:
            kind = raw_kind(conn, name)
            partition = f"raw.{kind.partition(WEEK)}"
            hot_bytes = conn.execute("select pg_total_relation_size(%s)", (partition,)).fetchone()[0]
            before[name] = fingerprint(conn, name)
            started = time.perf_counter()
            file = export_verified(conn, kind, instrument, WEEK, store)
            export_seconds = time.perf_counter() - started
            files.append(file)
            count = before[name][0]
            rows.append((name, count, hot_bytes, file.manifest.file_bytes, export_seconds))
        started = time.perf_counter()
        for file in files:
            finalize(conn, raw_kind(conn, file.kind), WEEK, [file])
        drop_seconds = time.perf_counter() - started
        gone = {name: fingerprint(conn, name)[0] for name in KINDS}
        started = time.perf_counter()
        restore_files(conn, files, reason="bench_cold")
        restore_seconds = time.perf_counter() - started
        after = {name: fingerprint(conn, name) for name in KINDS}
    print(f"PostgreSQL {version}; Parquet zstd level 9 via pyarrow")
    print(f"{'raw table':<12} {'rows':>10} {'hot B/row':>10} {'cold B/row':>11} {'cold/hot':>9} {'export s':>9}"
          f" {'rows/s':>9}")
    for name, count, hot_bytes, cold_bytes, seconds in rows:
        print(f"{name:<12} {count:>10,} {hot_bytes / count:>10.1f} {cold_bytes / count:>11.2f}"
              f" {cold_bytes / hot_bytes:>9.3f} {seconds:>9.1f} {count / seconds:>9,.0f}")
    total_rows = sum(r[1] for r in rows)
    hot, cold = sum(r[2] for r in rows), sum(r[3] for r in rows)
    ticks = [r for r in rows if r[0] in ("trades", "l1_quotes")]
    tick_rows = sum(r[1] for r in ticks)
    print(f"{'all':<12} {total_rows:>10,} {hot / total_rows:>10.1f} {cold / total_rows:>11.2f} {cold / hot:>9.3f}")
    print(f"trades + L1 quotes: hot {sum(r[2] for r in ticks) / tick_rows:.1f} B/row, cold "
          f"{sum(r[3] for r in ticks) / tick_rows:.2f} B/row: cold is 1/{sum(r[2] for r in ticks) / sum(r[3] for r in ticks):.1f}"
          f" of hot (target: at most 1/8)")
    print(f"record + drop the week's partitions: {drop_seconds:.2f} s (rows left: {sum(gone.values())}); "
          f"restore the week (one transaction): {restore_seconds:.1f} s, {total_rows / restore_seconds:,.0f} rows/s")
    same = all(before[name] == after[name] for name in KINDS)
    print(f"restored rows identical to the originals (count and sum of row hashes): {same}")
    if not same:
        raise SystemExit(f"round trip changed the rows: {before} vs {after}")


if __name__ == "__main__":
    main()
