"""The nightly job and the weekly retrain at a real market's rate, inside 6 GB (issue 15, item 1).

This process moves itself into a cgroup v1 memory group limited to --limit-gb (default 6)
before it starts anything, so the embedded PostgreSQL it starts, dbt (in-process), the
Prefect flows and their temporary API server all count against the limit, as on a 6 GB host.

Stages, each timed and watched (the cgroup's `rss` from memory.stat sampled every 0.2 s, not
its page cache; PostgreSQL's temp-file bytes from pg_stat_database; memory.failcnt, the times
the limit was hit; the oom_kill counter of memory.oom_control):
  history  the 3 months before the week at a low rate (--history-trades-per-day), generated
           and materialized: what the retrain reads (training reads 5-minute features, whose
           size does not depend on the tick rate)
  load     one symbol-week at the real rate: --trades-per-day (default 4,000,000: BTCUSDT
           perpetual) with about two L1 updates per trade (8,000,000 a day), depth bands and
           options chains, through the synthetic writer (COPY)
  nightly  the backfill flow's window over that week: the seven candle timeframes, every
           feature, regimes and coverage (dbt build of candles+, data tests included)
  retrain  the weekly retrain flow: the ml tables rebuilt, walk-forward and unseen-regime
           evaluation, the final models, on the rolling last 3 months

    sudo .venv/bin/python bench/bench_6gb.py                      # the real rate (about an hour)
    sudo .venv/bin/python bench/bench_6gb.py --trades-per-day 200000   # a quick check of the mechanics

PostgreSQL runs with the embedded cluster's settings (python/db/embedded.py, SERVER_SETTINGS);
docs/operations.md gives them for an external server of this size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg

CGROUP_ROOT = Path("/sys/fs/cgroup/memory")
WEEK_START = date(2024, 9, 2)  # a Monday; the history is the 3 months before it
HISTORY_START = date(2024, 6, 1)
SYMBOL = "BTCUSDT"


@dataclass
class StageFigures:
    stage: str
    seconds: float
    peak_rss_mb: float
    temp_mb: float
    limit_hits: int
    oom_kills: int
    note: str = ""


class MemoryGroup:
    """A cgroup v1 memory group this process (and every child it starts) runs in."""

    def __init__(self, name: str, limit_bytes: int):
        self.path = CGROUP_ROOT / name
        self.path.mkdir(exist_ok=True)
        (self.path / "memory.limit_in_bytes").write_text(str(limit_bytes))
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def rss(self) -> int:
        stat = dict(line.split() for line in (self.path / "memory.stat").read_text().splitlines())
        return int(stat.get("total_rss", stat["rss"]))

    def failcnt(self) -> int:
        return int((self.path / "memory.failcnt").read_text())

    def oom_kills(self) -> int:
        for line in (self.path / "memory.oom_control").read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def leave(self) -> None:
        (CGROUP_ROOT / "cgroup.procs").write_text(str(os.getpid()))


class PeakSampler:
    def __init__(self, group: MemoryGroup):
        self.group, self.peak, self._stop = group, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.group.rss())
            self._stop.wait(0.2)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.group.rss())


def temp_bytes(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("select coalesce(sum(temp_bytes), 0) from pg_stat_database").fetchone()[0])


@contextmanager
def stage(name: str, group: MemoryGroup, url: str, results: list[StageFigures]):
    print(f"  {name} ...", flush=True)
    temp_before, fails_before, kills_before = temp_bytes(url), group.failcnt(), group.oom_kills()
    started = time.perf_counter()
    note = ""
    with PeakSampler(group) as sampler:
        try:
            yield
        except Exception as error:  # the table says which stage failed and why
            note = f"FAILED: {str(error).strip().splitlines()[0][:120] if str(error).strip() else type(error).__name__}"
    results.append(StageFigures(name, time.perf_counter() - started, sampler.peak / 2**20,
                                (temp_bytes(url) - temp_before) / 2**20, group.failcnt() - fails_before,
                                group.oom_kills() - kills_before, note))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit-gb", type=float, default=6.0)
    parser.add_argument("--trades-per-day", type=int, default=4_000_000)
    parser.add_argument("--quotes-per-trade", type=float, default=2.0, help="L1 updates per trade (8M/4M for BTCUSDT)")
    parser.add_argument("--history-trades-per-day", type=int, default=20_000)
    parser.add_argument("--dir", default="/work/bench-6gb", help="state directory (a disk with ~25 GB free)")
    parser.add_argument("--keep", action="store_true", help="keep the cluster and its data afterwards")
    args = parser.parse_args()
    if os.geteuid() != 0 or not CGROUP_ROOT.is_dir():
        parser.error("needs root and the cgroup v1 memory controller (/sys/fs/cgroup/memory)")

    root = Path(args.dir)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    os.environ |= {"SNIPER_DATA_DIR": str(root), "DBT_TARGET_PATH": str(root / "target"),
                   "DBT_LOG_PATH": str(root / "logs")}
    os.environ.pop("SNIPER_DATABASE_URL", None)
    group = MemoryGroup("sniper_bench_6gb", int(args.limit_gb * 2**30))

    # Imported inside the group: every byte of this process and its children counts.
    from sniper.db.connection import resolve_target
    from sniper.db.migrate import migrate
    from sniper.flows.backfill import backfill
    from sniper.flows.train import train
    from sniper.prefect_env import quiet_prefect, shutdown_prefect
    from sniper.settings import get_settings
    from sniper.synth.config import SynthConfig
    from sniper.synth.writer import generate

    get_settings.cache_clear()
    quiet_prefect()
    target = resolve_target()
    with psycopg.connect(target.conninfo, autocommit=True) as conn:
        migrate(conn)
    url = target.conninfo
    history = SynthConfig(symbols=[SYMBOL], start=HISTORY_START, months=4,
                          days=(WEEK_START - HISTORY_START).days, trades_per_day=args.history_trades_per_day)
    week = SynthConfig(symbols=[SYMBOL], start=WEEK_START, months=1, days=7, trades_per_day=args.trades_per_day,
                       extra_quotes_per_order=max(args.quotes_per_trade - 1.0, 0.0))
    instrument = history.instruments[0].key
    results: list[StageFigures] = []
    print(f"# bench_6gb: cgroup limit {args.limit_gb:g} GB, {os.cpu_count()} cores; {SYMBOL} week of {WEEK_START} at "
          f"{args.trades_per_day:,} trades/day and ~{args.quotes_per_trade:g} L1 updates per trade; history "
          f"{HISTORY_START} .. {WEEK_START} at {args.history_trades_per_day:,} trades/day", flush=True)
    try:
        with stage("history (generate + materialize 3 months, low rate)", group, url, results):
            with psycopg.connect(url, autocommit=True) as conn:
                generate(conn, history)
            backfill(weeks=20, instruments=[instrument], window_days=31, sleep_seconds=0)
        with stage("load (one week at the real rate)", group, url, results):
            with psycopg.connect(url, autocommit=True) as conn:
                # One market at two rates: the same seed gives the same price path, so the week
                # continues the history; the writer, which refuses a symbol's second market,
                # is told the history days are this market's.
                conn.execute("update raw.load_ledger set checksum = %s where source_kind = 'synth' and symbol = %s",
                             (week.fingerprint(), SYMBOL))
                generate(conn, week)
        with psycopg.connect(url) as conn:
            rows = {table: conn.execute(f"select count(*) from raw.{table} where ts >= %s and ts < %s",  # noqa: S608
                                        (WEEK_START, WEEK_START + timedelta(days=7))).fetchone()[0]
                    for table in ("trades", "l1_quotes", "depth_bands", "options_chain")}
        print(f"  the week holds {', '.join(f'{n:,} {t}' for t, n in rows.items())}", flush=True)
        with stage("nightly (candles, features, regimes, coverage: one 7-day window)", group, url, results):
            backfill(instruments=[instrument], window_start=WEEK_START, window_days=7, sleep_seconds=0)
        with stage("retrain (last 3 months)", group, url, results):
            train(data_range="last_3_months")
    finally:
        shutdown_prefect()
        if not args.keep and target.embedded is not None:
            target.embedded.stop()
        group.leave()
    print(f"{'stage':<66} {'wall s':>8} {'peak RSS MB':>12} {'temp MB':>9} {'limit hit':>10} {'OOM kills':>10}")
    for figures in results:
        print(f"{figures.stage:<66} {figures.seconds:>8.1f} {figures.peak_rss_mb:>12.0f} {figures.temp_mb:>9.0f} "
              f"{figures.limit_hits:>10} {figures.oom_kills:>10}  {figures.note}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if all(not f.note and f.oom_kills == 0 for f in results) else 1


if __name__ == "__main__":
    sys.exit(main())
