"""Benchmark the pipeline's honesty: markets with no signal and markets with the planted one.

Each run gets a fresh database on a throwaway embedded PostgreSQL (a temp dir, removed at
the end): the demo's synthetic market (python/commands/demo.py: 2 symbols, 8 months of
bull, bear, sideways twice, then bull, bear; 2,000 trades a day) with the run's seed and
signal strength, the backfill's dbt models over it in consecutive windows (dbt
takes at most 92 days), the ml models (labels, dataset), then the evaluation the trainer
runs with its defaults (walk-forward 4 months train / 2 months test, stepping 2, so 8
months give 4 test months and the gate sees its last 3; leave-one-regime-out; default
features; XGBoost on one thread; threshold search) and the verdict. Per run it prints the
walk-forward trades (and per test day), their win rate, the win rate chance would give
(each side's share of winning labels among the test months' scorable rows, weighted by the
sides traded) and whether the win rate lies within 3 binomial standard errors of it, the
gate's win rate (last 3 test months), Sharpe, max drawdown, Deflated Sharpe Ratio, the
probability of backtest overfitting (PBO, over the threshold candidates), the SPA p-value
against the random / always-long / always-short baselines (largest of the three) and the
verdict. A market without signal should land within the band with KEEP COLLECTING DATA;
the planted one, at the default --signal-strength (SynthConfig's, the demo's), READY with
figures a trader would believe (docs/evaluation.md: "Calibrating the demo").

    .venv/bin/python bench/bench_honesty.py                        # 5 + 5 seeds, ~1 h
    .venv/bin/python bench/bench_honesty.py --planted-seeds &        # two processes side by side:
    .venv/bin/python bench/bench_honesty.py --no-signal-seeds          # own cluster, dbt target and logs
    .venv/bin/python bench/bench_honesty.py --no-signal-seeds --planted-seeds 1 2 --signal-strength 0.2
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import psutil
import psycopg
from pydantic import ValidationError

from sniper.commands.demo import DEMO_MARKET
from sniper.db.embedded import EmbeddedCluster
from sniper.db.scratch import create_scratch_database, drop_scratch_database
from sniper.settings import get_settings
from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from sniper.training.dataset import load_dataset
from sniper.training.evaluate import SIDES, EvaluationConfig, evaluate
from sniper.training.features import feature_columns
from sniper.training.models import XGBoostParams
from sniper.training.simulation import ThresholdSearch
from sniper.training.summary import summarize
from sniper.warehouse import invoke_dbt

START = DEMO_MARKET.start
FEATURES = ["ofi", "obi", "whale_cvd", "gamma_exposure"]
# The trainer's evaluation (walk-forward 4 / 2), on one XGBoost thread: on this 2-core host
# two threads run about 6x slower as soon as anything else is busy (same trees either way).
EVALUATION = EvaluationConfig(params=XGBoostParams(n_jobs=1))
NOISE_SIGMAS = 3.0
MAX_WINDOW_DAYS = 92  # the longest window dbt accepts (python/dbt_vars.py)


def _end(months: int) -> date:
    return (pd.Timestamp(START) + pd.DateOffset(months=months)).date()


def windows(end: date) -> list[dict]:
    """The market's months as consecutive backfill windows of at most MAX_WINDOW_DAYS days."""
    total = (end - START).days
    return [{"window_start": (START + timedelta(days=offset)).isoformat(),
             "window_days": min(MAX_WINDOW_DAYS, total - offset)} for offset in range(0, total, MAX_WINDOW_DAYS)]


def run(cluster: EmbeddedCluster, config: SynthConfig, evaluation: EvaluationConfig = EVALUATION) -> dict:
    end = _end(config.months)
    test_start = pd.Timestamp(_end(EVALUATION.walk_forward.train_months), tz="UTC")
    name, url = create_scratch_database(cluster, "honesty")
    os.environ["SNIPER_DATABASE_URL"] = url
    get_settings.cache_clear()
    started = time.perf_counter()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            generate(conn, config)
        backfill = ["run", "--select", "staging", "candles+", "--exclude", "path:models/ml"]
        for args, dbt_vars in [*((backfill, window) for window in windows(end)),
                               (["run", "--select", "path:models/ml"], None)]:
            if not invoke_dbt([*args, "--quiet"], dbt_vars).success:
                raise SystemExit(f"dbt {' '.join(args)} failed")
        columns = feature_columns(FEATURES)
        with psycopg.connect(url) as conn:
            data = load_dataset(conn, columns, start=None, end=end)
        results = evaluate(data, columns, evaluation)
        summary = summarize(results, data["month_regime"].value_counts().to_dict(),
                            len(evaluation.threshold_search.candidates), evaluation)
    finally:
        drop_scratch_database(cluster, name)
    trades = pd.concat([r.trades for r in results if r.kind == "walk_forward"], ignore_index=True)
    test = data[data["entry_at"] >= test_start].dropna(subset=columns)
    base = {side: float((test[f"{side}_net_return"] > 0).mean()) for side in SIDES}
    n = len(trades)
    chance = (sum(float((trades["side"] == side).sum()) * base[side] for side in SIDES) / n) if n else math.nan
    win_rate = float((trades["net_return"] > 0).mean()) if n else math.nan
    band = NOISE_SIGMAS * math.sqrt(chance * (1 - chance) / n) if n else math.nan
    test_days = (pd.Timestamp(end, tz="UTC") - test_start).days
    return {
        "n": n, "per_day": n / test_days, "win_rate": win_rate, "chance": chance, "band": band,
        "within": "yes" if n and abs(win_rate - chance) <= band else ("no trades" if not n else "NO"),
        "gate_win_rate": summary.gate.criterion("win_rate").value,
        "sharpe": summary.overall["sharpe"], "max_dd": summary.overall["max_drawdown"],
        "dsr": summary.overall["deflated_sharpe"],
        "pbo": summary.overall["pbo"], "spa": summary.overall["spa_p_value"],
        "verdict": summary.gate.verdict, "seconds": time.perf_counter() - started,
        "months": " ".join(f"{m.month[2:]}:{m.regime[:4] if m.regime else '-'}:"
                           f"{m.win_rate:.2f}/{m.n_trades}" if m.n_trades else f"{m.month[2:]}:-/0"
                           for m in summary.months),
    }


def _figure(value: float | None, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if value is None or (isinstance(value, float) and math.isnan(value)) else \
        f"{value:>{width}.{digits}f}"


def main() -> None:
    defaults = DEMO_MARKET
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-signal-seeds", nargs="*", type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument("--planted-seeds", nargs="*", type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument("--signal-strength", type=float, default=defaults.signal_strength,
                        help="of the planted markets (default: SynthConfig's, the demo's)")
    parser.add_argument("--months", type=int, default=defaults.months)
    parser.add_argument("--trades-per-day", type=int, default=defaults.trades_per_day)
    parser.add_argument("--symbols", default=",".join(defaults.symbols))
    parser.add_argument("--objective", choices=["expectancy", "total_return"],
                        default=EVALUATION.threshold_search.objective,
                        help="the threshold search's objective (default: the trainer's)")
    parser.add_argument("--min-trades", type=int, default=EVALUATION.threshold_search.min_trades)
    args = parser.parse_args()
    try:
        search = ThresholdSearch(**{**EVALUATION.threshold_search.model_dump(), "objective": args.objective,
                                    "min_trades": args.min_trades})
    except ValidationError as error:
        parser.error(f"--min-trades: {error.errors()[0]['msg']}")
    evaluation = EVALUATION.model_copy(update={"threshold_search": search})
    symbols = args.symbols.split(",")

    root = Path(tempfile.mkdtemp(prefix="sniper-bench-honesty-", dir="/tmp"))
    # Everything of this process in its own directory: another bench may run beside it.
    os.environ |= {"SNIPER_DATA_DIR": str(root), "DBT_TARGET_PATH": str(root / "target"),
                   "DBT_LOG_PATH": str(root / "logs")}
    cluster = EmbeddedCluster(root / "pgdata")
    cluster.start()
    wf = EVALUATION.walk_forward
    print(f"# bench_honesty: {len(symbols)} symbols ({','.join(symbols)}), {START} .. {_end(args.months)} "
          f"({args.months} months, regimes {','.join(defaults.regime_of_month(i) for i in range(args.months))}), "
          f"{args.trades_per_day} trades/day; walk-forward {wf.train_months} months train / {wf.test_months} test, "
          f"step {wf.step} + leave-one-regime-out; threshold by {search.objective} (at least {search.min_trades} "
          f"signals); features {','.join(FEATURES)}; xgboost defaults but 1 thread; "
          f"band = chance +/- {NOISE_SIGMAS:g} * sqrt(p(1-p)/n); PBO S={EVALUATION.pbo_blocks}; SPA vs "
          f"{EVALUATION.baselines.draws} random draws per baseline, {EVALUATION.baselines.spa_reps} bootstrap reps; "
          f"{psutil.cpu_count()} cores")
    print(f"{'market':>14} {'seed':>4} {'trades':>6} {'/day':>5} {'win rate':>8} {'chance':>6} {'band':>6} "
          f"{'within':>9} {'gate win':>8} {'Sharpe':>7} {'max DD':>6} {'DSR':>6} {'PBO':>6} {'SPA p':>6} "
          f"{'verdict':>22} {'seconds':>7}  test months (yy-mm:regime:win rate/trades)")
    runs = [("no signal", seed, 0.0) for seed in args.no_signal_seeds] + \
        [(f"planted {args.signal_strength:g}", seed, args.signal_strength) for seed in args.planted_seeds]
    try:
        for label, seed, strength in runs:
            config = SynthConfig(**{**defaults.model_dump(), "symbols": symbols, "months": args.months,
                                    "seed": seed, "trades_per_day": args.trades_per_day,
                                    "signal_strength": strength})
            r = run(cluster, config, evaluation)
            print(f"{label:>14} {seed:>4} {r['n']:>6} {r['per_day']:>5.1f} {_figure(r['win_rate'], 8, 3)} "
                  f"{_figure(r['chance'], 6, 3)} {_figure(r['band'], 6, 3)} {r['within']:>9} "
                  f"{_figure(r['gate_win_rate'], 8, 3)} {_figure(r['sharpe'], 7, 2)} {_figure(r['max_dd'], 6, 3)} "
                  f"{_figure(r['dsr'], 6, 3)} {_figure(r['pbo'], 6, 3)} {_figure(r['spa'], 6, 3)} "
                  f"{r['verdict']:>22} {r['seconds']:>7.0f}  {r['months']}",
                  flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
