"""Benchmark of the candle models (issue #4): all seven timeframes in PostgreSQL vs DuckDB vs pandas.

One command, on the same ticks:

    .venv/bin/python bench/bench_candles.py            # reuses .sniper/bench-candles when there
    .venv/bin/python bench/bench_candles.py --fresh    # wipes and regenerates it first (~3 min)

The bench database is an embedded PostgreSQL cluster of its own under --dir (default
.sniper/bench-candles, git-ignored), generated once with the synthetic market writer and
reused by later runs (the ledger says which days are there; --fresh starts over):

- history: BTCUSDT, 24 weeks from Monday 2024-06-17 at --history-trades-per-day (20,000:
  the history only has to exist and be materialized; its tick rate does not matter to a
  run that reads one other week);
- the benchmark week: BTCUSDT, Monday 2024-12-02 to 2024-12-09 at --trades-per-day
  (2,000,000: 14 million ticks), written by the same writer with its own configuration.

Measured, each --repeat times (median and best printed), each dbt invocation in a child
process so that its peak RSS is its own:

1. `dbt run --select candles` over the benchmark week with 24 weeks of candles already
   materialized (no build deletes any): with window_start and without (the newest window, which is the
   benchmark week: the same literal bounds, found with one query); then with window_start on only 4 weeks.
   Printed: the invocation's wall time, each model's execution_time from
   run_results.json, and ticks/s over the sum of the seven models' execution times.
2. The same 5m aggregation in DuckDB (in-process, from a Parquet export of the same
   ticks) and in pandas (resample), each in its own child process.
The Parquet export is made once and kept beside the cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

SYMBOL = "BTCUSDT"
HISTORY_WEEKS = 24
BENCH_WEEK = date(2024, 12, 2)  # a Monday
HISTORY_START = BENCH_WEEK - timedelta(weeks=HISTORY_WEEKS)
SHORT_HISTORY_WEEKS = 4
DATABASE = "bench"
TIMEFRAMES = ["5m", "15m", "1h", "4h", "1d", "1w", "1mo"]
# Keep every bucket: the history must really be there for the 4-vs-24-weeks comparison.
RETENTION: dict = {}  # no build deletes anything (retention is `sniper retention apply`)


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM: reset by exec, unlike getrusage's ru_maxrss on Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the bench database ------------------------------------------------------------------------


def cluster_of(directory: Path):
    from sniper.db.embedded import EmbeddedCluster

    return EmbeddedCluster(directory.resolve() / "pgdata")


def database_url(directory: Path) -> str:
    return f"postgresql://postgres@/{DATABASE}?host={cluster_of(directory).socket_dir}"


def write_days(conn, config, label: str) -> int:
    """Write the config's days the ledger does not hold yet; returns how many were written."""
    from sniper.synth.paths import build_minute_path
    from sniper.synth.ticks import TickGenerator
    from sniper.synth.writer import SOURCE_KIND, source_name, write_day, write_regime_truth

    loaded = {
        row[0]
        for row in conn.execute(
            "select source from raw.load_ledger where source_kind = %s and symbol = %s", (SOURCE_KIND, SYMBOL)
        )
    }
    missing = [i for i in range(config.days) if source_name(SYMBOL, config.start + timedelta(days=i)) not in loaded]
    if not missing:
        return 0
    path = build_minute_path(config, SYMBOL)
    write_regime_truth(conn, config, SYMBOL)
    generator = TickGenerator(config, SYMBOL, path)
    for index in missing:
        day = config.start + timedelta(days=index)
        started = time.perf_counter()
        result = write_day(conn, config, generator, path, index, day)
        print(f"  generated {label} {day}: {result.trades:,} trades in {time.perf_counter() - started:.1f} s", flush=True)
    return len(missing)


def prepare(directory: Path, trades_per_day: int, history_trades_per_day: int, fresh: bool) -> None:
    """Start (and on first use create and fill) the bench cluster; stage the models' inputs."""
    import psycopg

    from sniper.db.migrate import migrate
    from sniper.synth.config import SynthConfig

    cluster = cluster_of(directory)
    if fresh and directory.exists():
        cluster.stop()
        shutil.rmtree(directory)
    cluster.start()
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone():
            conn.execute(f"create database {DATABASE}")
    with psycopg.connect(cluster.conninfo(DATABASE), autocommit=True) as conn:
        migrate(conn)
        # The writer refuses to mix two configurations of one symbol in generate(); the bench
        # wants exactly that (a slow history, a fast week), so it writes the days itself.
        week = SynthConfig(symbols=[SYMBOL], start=BENCH_WEEK, months=1, days=7, trades_per_day=trades_per_day)
        history = SynthConfig(
            symbols=[SYMBOL], start=HISTORY_START, months=7, days=HISTORY_WEEKS * 7, trades_per_day=history_trades_per_day
        )
        written = write_days(conn, week, "week") + write_days(conn, history, "history")
        if written:
            conn.execute("vacuum (analyze) raw.trades")
    result = run_child(directory, ["dbt", json.dumps({"args": ["run", "--select", "staging"], "vars": {}})])
    assert result["success"], result


def week_ticks(directory: Path) -> int:
    import psycopg

    with psycopg.connect(cluster_of(directory).conninfo(DATABASE)) as conn:
        return conn.execute(
            "select count(*) from raw.trades where symbol = %s and ts >= %s and ts < %s",
            (SYMBOL, BENCH_WEEK, BENCH_WEEK + timedelta(days=7)),
        ).fetchone()[0]


def parquet_path(directory: Path) -> Path:
    return directory / f"ticks_{BENCH_WEEK}.parquet"


def child_export(directory: Path) -> dict:
    """The benchmark week's ticks as Parquet (made once), for DuckDB and pandas."""
    import duckdb
    import psycopg

    target = parquet_path(directory)
    csv_path = directory / "ticks.csv"
    print("  exporting the benchmark week to Parquet (once) ...", flush=True)
    query = (
        "copy (select (extract(epoch from ts) * 1000000)::bigint, trade_id, price, qty, quote_qty, is_buyer_maker"
        f" from raw.trades where symbol = '{SYMBOL}' and ts >= '{BENCH_WEEK}' and ts < '{BENCH_WEEK + timedelta(days=7)}'"
        " order by ts, trade_id) to stdout (format csv)"
    )
    with psycopg.connect(cluster_of(directory).conninfo(DATABASE)) as conn, csv_path.open("wb") as out:
        with conn.cursor().copy(query) as copy:
            for chunk in copy:
                out.write(chunk)
    duckdb.sql(
        f"copy (select make_timestamp(ts_us) as ts, trade_id, price, qty, quote_qty, is_buyer_maker"
        f" from read_csv('{csv_path}', header = false, columns = {{'ts_us': 'BIGINT', 'trade_id': 'BIGINT',"
        f" 'price': 'DOUBLE', 'qty': 'DOUBLE', 'quote_qty': 'DOUBLE', 'is_buyer_maker': 'BOOLEAN'}}))"
        f" to '{target}' (format parquet)"
    )
    csv_path.unlink()
    return {"path": str(target)}


# -- child processes: each measures itself -----------------------------------------------------


def run_child(directory: Path, args: list[str]) -> dict:
    env = {**os.environ, "SNIPER_DATABASE_URL": database_url(directory)}
    completed = subprocess.run(
        [sys.executable, __file__, "--dir", str(directory), "--child", *args],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise SystemExit(f"child {args[0]} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return json.loads(lines[-1])


def child_dbt(directory: Path, spec: str) -> dict:
    """One or more dbt invocations in this process; times and run_results of the last one."""
    from sniper.warehouse import invoke_dbt

    request = json.loads(spec)
    target = directory / "target"
    outcome = {}
    # One invocation per listed window_start (none listed: one, with the request's vars).
    for window in request.get("windows") or [{}]:
        started = time.perf_counter()
        result = invoke_dbt([*request["args"], "--target-path", str(target)],
                            {**RETENTION, **request["vars"], **window})
        wall = time.perf_counter() - started
        outcome = {"success": result.success, "wall_s": wall}
        if not result.success:
            break
    run_results = target / "run_results.json"
    if run_results.exists():
        outcome["models"] = {
            r["unique_id"].split(".")[-1]: r["execution_time"] for r in json.loads(run_results.read_text())["results"]
        }
    outcome["peak_rss_mb"] = peak_rss_mb()
    return outcome


DUCKDB_5M = """
select
    time_bucket(interval '5 minutes', ts) as bucket_start_at,
    arg_min(price, {'t': ts, 'id': trade_id}) as open,
    max(price) as high,
    min(price) as low,
    arg_max(price, {'t': ts, 'id': trade_id}) as close,
    sum(qty) as volume,
    sum(quote_qty) as quote_volume,
    count(*) as trade_count,
    coalesce(sum(qty) filter (where not is_buyer_maker), 0) as taker_buy_volume,
    coalesce(sum(qty) filter (where is_buyer_maker), 0) as taker_sell_volume,
    sum(quote_qty) / sum(qty) as vwap,
    min({'t': ts, 'id': trade_id}).id as first_trade_id,
    max({'t': ts, 'id': trade_id}).id as last_trade_id
from read_parquet('{path}')
group by 1
"""


def child_duckdb(parquet: str) -> dict:
    import duckdb

    con = duckdb.connect()
    started = time.perf_counter()
    rows = con.sql(DUCKDB_5M.replace("{path}", parquet)).fetchall()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "buckets": len(rows), "peak_rss_mb": peak_rss_mb()}


def child_pandas(parquet: str) -> dict:
    import duckdb

    started = time.perf_counter()
    ticks = duckdb.sql(f"select * from read_parquet('{parquet}')").df()
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    # Rows are in (ts, trade_id) order (the export sorted them), so first/last are open/close.
    ticks["taker_buy_qty"] = ticks.qty.where(~ticks.is_buyer_maker, 0.0)
    ticks["taker_sell_qty"] = ticks.qty.where(ticks.is_buyer_maker, 0.0)
    candles = (
        ticks.set_index("ts")
        .resample("5min")
        .agg(
            {
                "price": ["first", "max", "min", "last"],
                "qty": "sum",
                "quote_qty": "sum",
                "trade_id": ["count", "first", "last"],
                "taker_buy_qty": "sum",
                "taker_sell_qty": "sum",
            }
        )
    )
    candles["vwap"] = candles[("quote_qty", "sum")] / candles[("qty", "sum")]
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "load_seconds": loaded, "buckets": len(candles), "peak_rss_mb": peak_rss_mb()}


# -- scenarios ---------------------------------------------------------------------------------


def execute(directory: Path, *statements: str) -> None:
    import psycopg

    with psycopg.connect(cluster_of(directory).conninfo(DATABASE), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def forget_week(directory: Path) -> None:
    """Delete the benchmark week's candles, so that the next run computes it again."""
    execute(
        directory,
        *[
            f"delete from candles.candles_{timeframe} where bucket_start_at >= "
            + (f"date_trunc('month', timestamptz '{BENCH_WEEK}', 'UTC')" if timeframe == "1mo" else f"'{BENCH_WEEK}'")
            for timeframe in TIMEFRAMES
        ],
    )


def build_history(directory: Path, weeks: int, schema: str) -> dict:
    """Materialize `weeks` weeks before the benchmark week, one window per dbt run, and park
    the result in `schema` (renamed back to candles when measured)."""
    execute(directory, "drop schema if exists candles cascade", f"drop schema if exists {schema} cascade")
    windows = [{"window_start": str(BENCH_WEEK - timedelta(weeks=weeks - week))} for week in range(weeks)]
    built = run_child(directory, ["dbt", json.dumps({"args": ["run", "--select", "candles"], "vars": {},
                                                     "windows": windows})])  # fmt: skip
    assert built["success"], built
    execute(directory, f"alter schema candles rename to {schema}")
    return built


def measure_week(directory: Path, schema: str, dbt_vars: dict, ticks: int) -> dict:
    """One run over the benchmark week on the history parked in `schema`."""
    execute(directory, f"alter schema {schema} rename to candles")
    try:
        forget_week(directory)
        outcome = run_child(directory, ["dbt", json.dumps({"args": ["run", "--select", "candles"], "vars": dbt_vars})])
    finally:
        execute(directory, f"alter schema candles rename to {schema}")
    assert outcome["success"], outcome
    candle_models = {k: v for k, v in outcome["models"].items() if k.startswith("candles_") and k != "candles_all"}
    outcome["models_s"] = sum(candle_models.values())
    outcome["ticks_per_s"] = ticks / outcome["models_s"]
    return outcome


def summary(runs: list[dict]) -> dict:
    return {"runs": runs, "median": statistics.median(r["models_s"] for r in runs),
            "best": min(r["models_s"] for r in runs), "wall_median": statistics.median(r["wall_s"] for r in runs)}  # fmt: skip


def show_week(label: str, result: dict, ticks: int) -> None:
    best = min(result["runs"], key=lambda r: r["models_s"])
    print(f"\n{label}")
    print(f"  seven models (sum of execution_time): median {result['median']:.2f} s, best {result['best']:.2f} s"
          f" -> {ticks / result['median'] / 1e6:.2f} M ticks/s median, {ticks / result['best'] / 1e6:.2f} best")  # fmt: skip
    print(f"  invocation wall time: median {result['wall_median']:.2f} s (dbt start-up, parse, hooks, commits included)")
    print("  per model (best run): " + ", ".join(f"{k} {v:.2f}s" for k, v in best["models"].items()))
    print(f"  dbt process peak RSS: {max(r['peak_rss_mb'] for r in result['runs']):.0f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path(".sniper/bench-candles"))
    parser.add_argument("--fresh", action="store_true", help="delete the bench database and generate it again")
    parser.add_argument("--trades-per-day", type=int, default=2_000_000)
    parser.add_argument("--history-trades-per-day", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="measured runs of each scenario")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, payload = args.child[0], args.child[1]
        handler = {"dbt": lambda: child_dbt(args.dir, payload), "duckdb": lambda: child_duckdb(payload),
                   "pandas": lambda: child_pandas(payload), "export": lambda: child_export(args.dir)}[kind]  # fmt: skip
        print(json.dumps(handler()))
        return 0

    started = time.perf_counter()
    print(f"bench database: {args.dir} (embedded PostgreSQL; --fresh regenerates)")
    prepare(args.dir, args.trades_per_day, args.history_trades_per_day, args.fresh)
    ticks = week_ticks(args.dir)
    if not parquet_path(args.dir).exists():
        run_child(args.dir, ["export", "-"])
    parquet = str(parquet_path(args.dir))
    print(f"benchmark week {BENCH_WEEK} .. {BENCH_WEEK + timedelta(days=7)}: {ticks:,} ticks of {SYMBOL}")
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at start")

    short = build_history(args.dir, SHORT_HISTORY_WEEKS, "candles_short_history")
    history = build_history(args.dir, HISTORY_WEEKS, "candles_long_history")
    print(f"\nhistory: {HISTORY_WEEKS} (and, separately, {SHORT_HISTORY_WEEKS}) weeks materialized one window per run"
          f" ({args.history_trades_per_day:,} trades/day; one such run: {history['wall_s']:.2f} s wall,"
          f" peak RSS {history['peak_rss_mb']:.0f} MB)")  # fmt: skip
    # Interleaved, so that a busy machine weighs on every scenario alike.
    literal_runs, newest_runs, short_runs = [], [], []
    week = {"window_start": str(BENCH_WEEK)}
    for _ in range(args.repeat):
        literal_runs.append(measure_week(args.dir, "candles_long_history", week, ticks))
        newest_runs.append(measure_week(args.dir, "candles_long_history", {}, ticks))
        short_runs.append(measure_week(args.dir, "candles_short_history", week, ticks))
    literal, newest, literal_4 = summary(literal_runs), summary(newest_runs), summary(short_runs)

    show_week(f"PostgreSQL, 7 timeframes, window_start={BENCH_WEEK}, {HISTORY_WEEKS} weeks materialized", literal, ticks)
    show_week(f"PostgreSQL, 7 timeframes, no window_start (the newest week), {HISTORY_WEEKS} weeks materialized",
              newest, ticks)
    show_week(f"PostgreSQL, 7 timeframes, window_start={BENCH_WEEK}, {SHORT_HISTORY_WEEKS} weeks materialized",
              literal_4, ticks)

    duck = [run_child(args.dir, ["duckdb", parquet]) for _ in range(args.repeat)]
    pand = [run_child(args.dir, ["pandas", parquet]) for _ in range(args.repeat)]
    duck_s = statistics.median(r["seconds"] for r in duck)
    pandas_s = statistics.median(r["seconds"] for r in pand)
    pg_s = literal["median"]
    print("\nthe same 5m aggregation elsewhere (medians; Parquet of the same ticks, in OS cache):")
    print(f"  DuckDB {duckdb_version()} (in-process, 5m only): {duck_s:.2f} s -> {ticks / duck_s / 1e6:.2f} M ticks/s,"
          f" child peak RSS {max(r['peak_rss_mb'] for r in duck):.0f} MB")  # fmt: skip
    print(f"  pandas resample (5m only, data already in memory; loading took"
          f" {statistics.median(r['load_seconds'] for r in pand):.2f} s more): {pandas_s:.2f} s"
          f" -> {ticks / pandas_s / 1e6:.2f} M ticks/s, child peak RSS {max(r['peak_rss_mb'] for r in pand):.0f} MB")  # fmt: skip
    print(f"  PostgreSQL (all seven timeframes, window_start run): {pg_s:.2f} s -> {ticks / pg_s / 1e6:.2f} M ticks/s")
    print(f"  ratios: PostgreSQL/DuckDB time {pg_s / duck_s:.1f}x, PostgreSQL/pandas time {pg_s / pandas_s:.2f}x")

    light = max(history["peak_rss_mb"], short["peak_rss_mb"])
    heavy = max(r["peak_rss_mb"] for r in literal["runs"] + newest["runs"] + literal_4["runs"])
    week_rate = ticks // 7
    print("\ntargets (measured vs target; reported, not asserted):")
    print(f"  ticks/s over the seven models' execution time: {ticks / pg_s / 1e6:.2f} M (median), "
          f"{ticks / literal['best'] / 1e6:.2f} M (best) vs >= 5 M")
    print(f"  dbt process peak RSS: {light:.0f} MB at {args.history_trades_per_day * 7:,} ticks/week, {heavy:.0f} MB at"
          f" {ticks:,} ({ticks / (args.history_trades_per_day * 7):.0f}x the ticks) vs < 200 MB and flat")  # fmt: skip
    ratio = literal["median"] / literal_4["median"]
    wall_ratio = literal["wall_median"] / literal_4["wall_median"]
    print(f"  one-week run, {HISTORY_WEEKS} vs {SHORT_HISTORY_WEEKS} weeks materialized: {ratio:.2f}x models,"
          f" {wall_ratio:.2f}x wall vs <= 1.2x")  # fmt: skip
    print(f"\n(week: {week_rate:,} trades/day; load average {os.getloadavg()[0]:.2f} at end;"
          f" bench took {time.perf_counter() - started:.0f} s)")  # fmt: skip
    return 0


def duckdb_version() -> str:
    import duckdb

    return duckdb.__version__


if __name__ == "__main__":
    sys.exit(main())
