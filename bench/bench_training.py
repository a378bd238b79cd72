"""Benchmark `sniper train`: wall time and peak RSS of training plus evaluation.

Needs a warehouse with the 6-month, 2-symbol market backfilled: by default the one
`make demo` leaves in .sniper/ (or give --data-dir). Target: under 60 s and 1 GB.

    .venv/bin/python bench/bench_training.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure  # noqa: E402

SNIPER = Path(sys.executable).with_name("sniper")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="SNIPER_DATA_DIR of a backfilled warehouse (default: the project's)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "SNIPER_DATABASE_URL"}
    if args.data_dir:
        env["SNIPER_DATA_DIR"] = args.data_dir
    rows = measure([str(SNIPER), "dbt", "build", "--select", "ml", "--quiet"], env)
    if rows.returncode != 0:
        raise SystemExit(f"dbt build --select ml failed:\n{rows.stdout[-2000:]}")
    result = measure([str(SNIPER), "train", "--data-range", "last_3_months"], env)
    if result.returncode not in (0, 3):
        raise SystemExit(result.stderr[-2000:])
    print(f"# bench_training: xgboost, features ofi,obi,whale_cvd,gamma_exposure, {psutil.cpu_count()} cores")
    print(f"dbt build --select ml (labels + dataset): {rows.seconds:.1f} s")
    print(f"sniper train (flow: dataset build, walk-forward + leave-one-regime-out, store): "
          f"{result.seconds:.1f} s, peak RSS {result.peak_rss_mb:.0f} MB (target < 60 s, < 1024 MB)")
    print(result.stdout.strip().splitlines()[0] if result.stdout.strip() else "")


if __name__ == "__main__":
    main()
