"""Benchmark the pipeline's honesty: a market with no signal over several seeds, and one planted.

Each run gets a fresh database on a throwaway embedded PostgreSQL (a temp dir, removed at
the end): a six-month synthetic market (bull, bear, sideways, bull, bear, sideways), the
backfill's dbt models over it in two consecutive windows (dbt takes at most 92 days), the ml models (labels, dataset), then the
evaluation the trainer runs (walk-forward 3 months train / 3 months test, leave-one-regime-
out, default features, XGBoost and threshold search) and the verdict. Per run it prints the
walk-forward out-of-sample win rate and trades, the win rate chance would give (each side's
share of winning labels among the test months' scorable rows, weighted by the sides
traded), whether the win rate lies within 3 binomial standard errors of it, Sharpe, Deflated
Sharpe Ratio, probability of backtest overfitting (PBO, over the threshold candidates), the
SPA p-value against the random / always-long / always-short baselines (largest of the
three) and verdict. A market without signal should land within the band, with a DSR below
0.95, a large p-value and KEEP COLLECTING DATA, for most seeds; the planted one far above.

    .venv/bin/python bench/bench_honesty.py                       # seeds 1..5, planted seed 1
    .venv/bin/python bench/bench_honesty.py --seeds 1 2 --trades-per-day 500
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

from sniper.db.embedded import EmbeddedCluster
from sniper.db.scratch import create_scratch_database, drop_scratch_database
from sniper.settings import get_settings
from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from sniper.training.dataset import load_dataset
from sniper.training.evaluate import SIDES, EvaluationConfig, evaluate
from sniper.training.features import feature_columns
from sniper.training.models import XGBoostParams
from sniper.training.splits import WalkForwardConfig
from sniper.training.summary import summarize
from sniper.warehouse import invoke_dbt

START = date(2024, 6, 1)
END = date(2024, 12, 1)
TEST_START = pd.Timestamp("2024-09-01", tz="UTC")
FEATURES = ["ofi", "obi", "whale_cvd", "gamma_exposure"]
# One XGBoost thread: on this 2-core host two threads run about 6x slower as soon as anything
# else is busy (same trees either way).
EVALUATION = EvaluationConfig(walk_forward=WalkForwardConfig(train_months=3, test_months=3),
                              params=XGBoostParams(n_jobs=1))
NOISE_SIGMAS = 3.0
MAX_WINDOW_DAYS = 92  # the longest window dbt accepts (python/dbt_vars.py)


def windows() -> list[dict]:
    """The six months as consecutive backfill windows of at most MAX_WINDOW_DAYS days."""
    total = (END - START).days
    return [{"window_start": (START + timedelta(days=offset)).isoformat(),
             "window_days": min(MAX_WINDOW_DAYS, total - offset)} for offset in range(0, total, MAX_WINDOW_DAYS)]


def run(cluster: EmbeddedCluster, config: SynthConfig) -> dict:
    name, url = create_scratch_database(cluster, "honesty")
    os.environ["SNIPER_DATABASE_URL"] = url
    get_settings.cache_clear()
    started = time.perf_counter()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            generate(conn, config)
        backfill = ["run", "--select", "staging", "candles+", "--exclude", "path:models/ml"]
        for args, dbt_vars in [*((backfill, window) for window in windows()),
                               (["run", "--select", "path:models/ml"], None)]:
            if not invoke_dbt([*args, "--quiet"], dbt_vars).success:
                raise SystemExit(f"dbt {' '.join(args)} failed")
        columns = feature_columns(FEATURES)
        with psycopg.connect(url) as conn:
            data = load_dataset(conn, columns, start=None, end=END)
        results = evaluate(data, columns, EVALUATION)
        summary = summarize(results, data["month_regime"].value_counts().to_dict(),
                            len(EVALUATION.threshold_search.candidates), EVALUATION)
    finally:
        drop_scratch_database(cluster, name)
    trades = pd.concat([r.trades for r in results if r.kind == "walk_forward"], ignore_index=True)
    test = data[data["entry_at"] >= TEST_START].dropna(subset=columns)
    base = {side: float((test[f"{side}_net_return"] > 0).mean()) for side in SIDES}
    n = len(trades)
    chance = (sum(float((trades["side"] == side).sum()) * base[side] for side in SIDES) / n) if n else math.nan
    win_rate = float((trades["net_return"] > 0).mean()) if n else math.nan
    band = NOISE_SIGMAS * math.sqrt(chance * (1 - chance) / n) if n else math.nan
    return {
        "n": n, "win_rate": win_rate, "chance": chance, "band": band,
        "within": "yes" if n and abs(win_rate - chance) <= band else ("no trades" if not n else "NO"),
        "sharpe": summary.overall["sharpe"], "dsr": summary.overall["deflated_sharpe"],
        "pbo": summary.overall["pbo"], "spa": summary.overall["spa_p_value"],
        "verdict": summary.gate.verdict, "seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5], help="no-signal markets")
    parser.add_argument("--planted-seed", type=int, default=1, help="the planted-signal market's seed")
    parser.add_argument("--trades-per-day", type=int, default=300)
    parser.add_argument("--symbol", default="BTCUSDT")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="sniper-bench-honesty-", dir="/tmp"))
    os.environ["SNIPER_DATA_DIR"] = str(root)
    cluster = EmbeddedCluster(root / "pgdata")
    cluster.start()
    print(f"# bench_honesty: 1 symbol ({args.symbol}), {START} .. {END} (6 months: bull, bear, sideways x2), "
          f"{args.trades_per_day} trades/day; walk-forward 3 months train ({START:%Y-%m}..2024-08) / 3 test "
          f"(2024-09..2024-11) + leave-one-regime-out; features {','.join(FEATURES)}; xgboost defaults but 1 thread; "
          f"band = chance +/- {NOISE_SIGMAS:g} * sqrt(p(1-p)/n); PBO S={EVALUATION.pbo_blocks}; SPA vs "
          f"{EVALUATION.baselines.draws} random draws per baseline, {EVALUATION.baselines.spa_reps} bootstrap reps; "
          f"{psutil.cpu_count()} cores")
    print(f"{'market':>16} {'seed':>4} {'trades':>6} {'win rate':>8} {'chance':>6} {'band':>6} {'within':>9} "
          f"{'Sharpe':>7} {'DSR':>6} {'PBO':>6} {'SPA p':>6} {'verdict':>22} {'seconds':>7}")
    runs = [("signal 0", seed, 0.0) for seed in args.seeds] + [("planted (0.5)", args.planted_seed, 0.5)]
    try:
        for label, seed, strength in runs:
            config = SynthConfig(symbols=[args.symbol], start=START, months=6, seed=seed,
                                 trades_per_day=args.trades_per_day, signal_strength=strength)
            r = run(cluster, config)
            print(f"{label:>16} {seed:>4} {r['n']:>6} {r['win_rate']:>8.3f} {r['chance']:>6.3f} {r['band']:>6.3f} "
                  f"{r['within']:>9} {r['sharpe']:>7.2f} {r['dsr']:>6.3f} {r['pbo']:>6.3f} {r['spa']:>6.3f} "
                  f"{r['verdict']:>22} {r['seconds']:>7.0f}",
                  flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
