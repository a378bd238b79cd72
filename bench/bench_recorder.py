"""Benchmark `sniper record`: sustained messages/s, lag and the recorder's RSS over a long replay.

The exchange is tests/replay_server.py in a child process, replaying the real USD-M
BTCUSDT captures of 2024-07-18/19 (8 minutes, 63k trade and bookTicker messages, 131/s
on average, 183/s in the busier second file) with their timing compressed ``--speed``
times, looped to make ``--minutes`` of replayed time (each pass with new trade and update
ids, every message stamped with the time it is sent). The recorder is the installed CLI,
a child process writing to a fresh database of a fresh embedded PostgreSQL. Sampled:
the recorder's RSS every 0.25 s (psutil), and every 2 s from the database the messages
committed and the lag (now minus the newest covered exchange time, i.e. send time).

"keeps up" means: one span (the buffer bound was never reached: no 'database too slow'),
and every message sent committed. "flat" compares the RSS of the last quarter of the run
with the second quarter.

    .venv/bin/python bench/bench_recorder.py --speed 10 --minutes 64        # an hour at ~1,300 msg/s (6.4 min)
    .venv/bin/python bench/bench_recorder.py --speed 20 40 80 --minutes 16  # faster
    .venv/bin/python bench/bench_recorder.py --speed 80 160 320 --minutes 16 --clock shift   # the ceiling
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from sniper.db.embedded import EmbeddedCluster  # noqa: E402
from sniper.db.scratch import create_scratch_database  # noqa: E402
from tests.replay_server import ReplayServer, read_captures  # noqa: E402

SNIPER = Path(sys.executable).with_name("sniper")
CAPTURES = [REPO / "tests/data/realdata/binance-websocket" / f"usdm_btcusdt_2024071{day}.gz" for day in (8, 9)]


def _serve(speed: float, loops: int, clock: str, port, sent, finished) -> None:
    """The replay server's process: serves until terminated, publishing its progress."""
    server = ReplayServer(read_captures(CAPTURES), speed=speed, clock=clock, loops=loops).start()
    port.value = server.port
    while not server.stats.finished:
        sent.value = server.stats.sent
        time.sleep(0.2)
    sent.value = server.stats.sent
    finished.value = 1
    time.sleep(24 * 3600)


@dataclass
class Sample:
    seconds: float
    committed: int
    lag: float | None


@dataclass
class Run:
    speed: float
    clock: str
    replayed_minutes: float
    messages_sent: int
    wall_seconds: float
    replay_seconds: float
    committed: int
    spans: int
    end_reasons: list[str]
    rss_mb: list[tuple[float, float]]
    samples: list[Sample]
    recorder_cpu_seconds: float
    server_cpu_seconds: float


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def run_once(
    cluster: EmbeddedCluster, speed: float, minutes: float, clock: str, capture_seconds: float, home: Path
) -> Run:
    loops = max(1, round(minutes * 60 / capture_seconds))
    _, url = create_scratch_database(cluster, "bench")
    context = multiprocessing.get_context("spawn")
    port, sent, finished = context.Value("i", 0), context.Value("q", 0), context.Value("b", 0)
    server = context.Process(target=_serve, args=(speed, loops, clock, port, sent, finished), daemon=True)
    server.start()
    while port.value == 0:
        time.sleep(0.05)
    env = {**os.environ, "SNIPER_DATABASE_URL": url}
    log = (home / f"recorder-{speed:g}x.log").open("w")
    started = time.monotonic()
    recorder = subprocess.Popen(
        [str(SNIPER), "record", "--market", "um", "--symbols", "BTCUSDT", "--url", f"ws://127.0.0.1:{port.value}/stream"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    process = psutil.Process(recorder.pid)
    server_process = psutil.Process(server.pid)
    recorder_cpu = 0.0
    rss: list[tuple[float, float]] = []
    samples: list[Sample] = []
    replay_done_at = None
    with psycopg.connect(url, autocommit=True) as conn:
        next_query = 0.0
        while True:
            now = time.monotonic() - started
            rss.append((now, process.memory_info().rss / 2**20))
            recorder_cpu = _cpu_seconds(process)
            if now >= next_query:
                next_query = now + 2.0
                committed, lag = conn.execute(
                    "select coalesce(sum(messages), 0)::bigint,"
                    " extract(epoch from now() - max(last_ts))::float8 from raw.recording_spans"
                ).fetchone()
                samples.append(Sample(now, committed, lag))
                if finished.value and replay_done_at is None:
                    replay_done_at = now
                if finished.value and (committed >= sent.value or now - replay_done_at > 30):
                    break
            time.sleep(0.25)
        server_cpu = _cpu_seconds(server_process)
        recorder.send_signal(signal.SIGTERM)
        recorder.wait(30)
        wall = time.monotonic() - started
        reasons = [row[0] for row in conn.execute("select end_reason from raw.recording_spans order by connected_at")]
        committed = conn.execute("select coalesce(sum(messages), 0)::bigint from raw.recording_spans").fetchone()[0]
    server.terminate()
    server.join()
    return Run(speed, clock, loops * capture_seconds / 60, sent.value, wall, replay_done_at or wall, committed,
               len(reasons), reasons, rss, samples, recorder_cpu, server_cpu)


def _quarter(rss: list[tuple[float, float]], index: int) -> float:
    values = [value for _, value in rss]
    size = max(1, len(values) // 4)
    return max(values[index * size : (index + 1) * size] or values)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def report(run: Run) -> str:
    rate = run.committed / run.replay_seconds
    lags = [sample.lag for sample in run.samples if sample.lag is not None]
    peak = max(value for _, value in run.rss_mb)
    second, last = _quarter(run.rss_mb, 1), _quarter(run.rss_mb, 3)
    keeps_up = run.spans == 1 and run.committed >= run.messages_sent
    return (
        f"{run.speed:>5g}x {run.replayed_minutes:>6.0f} {run.messages_sent:>10,} {run.replay_seconds:>7.0f} "
        f"{run.messages_sent / run.replay_seconds:>9,.0f} {rate:>9,.0f} "
        f"{_seconds(statistics.median(lags) if lags and run.clock == 'send' else None):>7} "
        f"{_seconds(max(lags) if lags and run.clock == 'send' else None):>7} "
        f"{peak:>8.0f} {second:>7.0f} {last:>7.0f} {'flat' if last <= second * 1.05 else 'GROWS':>6} "
        f"{run.spans:>5} {100 * run.recorder_cpu_seconds / run.wall_seconds:>7.0f} "
        f"{100 * run.server_cpu_seconds / run.wall_seconds:>7.0f} "
        f"{1e6 * run.recorder_cpu_seconds / max(run.committed, 1):>7.0f} {'yes' if keeps_up else 'NO: ' + ', '.join(sorted(set(run.end_reasons)))}"
    )


def rss_timeline(run: Run, points: int = 8) -> str:
    step = max(1, len(run.rss_mb) // points)
    return "  ".join(f"{seconds:.0f}s {value:.0f}" for seconds, value in run.rss_mb[::step])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speed", type=float, nargs="+", default=[10.0], help="timing compression factors")
    parser.add_argument("--minutes", type=float, default=64.0, help="replayed (capture) minutes per run")
    parser.add_argument(
        "--clock", choices=["send", "shift"], default="send",
        help="send: each message stamped as sent (lag is the recorder's own delay; the server restamps each"
        " message, about 5,600 messages/s on the shared VM); shift: the capture's times moved by a constant,"
        " restamped before the replay starts (a faster server; lag is then meaningless)",
    )
    args = parser.parse_args()

    messages = read_captures(CAPTURES)
    capture_seconds = (messages[-1].receive_ns - messages[0].receive_ns) / 1e9
    home = Path(tempfile.mkdtemp(prefix="sniper-bench-recorder-", dir="/tmp"))
    cluster = EmbeddedCluster(home / "pgdata")
    cluster.start()
    try:
        print(
            f"# bench_recorder: um BTCUSDT captures 2024-07-18/19 ({len(messages):,} messages in {capture_seconds:.0f} s,"
            f" looped, clock {args.clock}), {psutil.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start,"
            f" Python {platform.python_version()}; recorder logs in {home}"
        )
        print(f"{'speed':>6} {'min':>6} {'messages':>10} {'wall s':>7} {'sent/s':>9} {'commit/s':>9} "
              f"{'lag p50':>7} {'lag max':>7} {'peak MB':>8} {'Q2 MB':>7} {'Q4 MB':>7} {'RSS':>6} {'spans':>5} {'rec CPU%':>7} {'srv CPU%':>7} {'rec µs/msg':>7} keeps up")
        for speed in args.speed:
            run = run_once(cluster, speed, args.minutes, args.clock, capture_seconds, home)
            print(report(run), flush=True)
            print(f"#   RSS MB over time: {rss_timeline(run)}; load average now {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
