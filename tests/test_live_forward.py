"""The forward track record on the synthetic market, through the same live flows as production.

One symbol, 1,000 trades a day. Six months (2024-01 .. 2024-06) are generated, backfilled and
trained on (walk-forward 3 months train, 1 test: three test months, so the gate's criteria are
all computed); the run is deployed. Then 2024-07 and 2024-08 are fed into raw a day at a time
and the live-materialize flow (which scores right after) runs at every week's end, as the
schedule would have at that moment (``as_of``). Three markets:

* planted: the same order-flow signal forward: the forward win rate lies inside the Wilson
  interval around the walk-forward one; a weekly and monthly record exists;
* switched off: the forward months come from a decoy market (python/synth/config.py): the
  same price path and taker flow tilted just as much, by the coming move of an independent
  walk, so the pattern the model learned keeps appearing and it keeps trading, but the
  pattern predicts nothing. The forward record falls to chance, the urgent diagnosis and the
  regime-change alarm fire, and the diagnosis reaches the backfill planner. (At strength 0
  the pattern itself is gone and the model abstains: 21 trades in two months, measured
  2026-12-07, a record too thin to judge.);
* no signal at all (a hand-made dataset whose wins ignore every feature): the run is KEEP
  COLLECTING DATA, `sniper deploy --live` refuses it (one line, exit 2, nothing written) and
  the weekly retrain deploys it as paper only.

Slow by nature (several dbt builds per week of forward data): its wall time is printed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from sniper.backfill.planner import _urgent_regime
from sniper.db.scratch import copy_scratch_database, drop_scratch_database
from sniper.settings import get_settings
from sniper.synth.config import SynthConfig
from sniper.synth.paths import build_minute_path
from sniper.synth.ticks import TickGenerator
from sniper.synth.writer import generate, write_day, write_regime_truth
from sniper.training.evaluate import EvaluationConfig
from sniper.training.gate import KEEP_COLLECTING, READY
from sniper.training.metrics import win_rate_interval
from sniper.training.pipeline import TrainRequest, run_training
from sniper.training.splits import WalkForwardConfig
from tests import conftest
from tests.conftest import run_cli
from tests.hand_made_training import hand_made_dataset, train_on_hand_made_dataset

SYMBOL = "BTCUSDT"
START = date(2024, 1, 1)
FORWARD_START = date(2024, 7, 1)
FORWARD_END = date(2024, 9, 1)
TRAINING_DAYS = (FORWARD_START - START).days
STRENGTH = 0.5
REQUEST = TrainRequest(
    data_range="all",
    evaluation=EvaluationConfig(walk_forward=WalkForwardConfig(train_months=3, test_months=1)),
)


def market(signal_strength: float, signal_source: str = "informed") -> SynthConfig:
    return SynthConfig(symbols=[SYMBOL], start=START, months=8, seed=11, trades_per_day=1_000,
                       signal_strength=signal_strength, signal_source=signal_source, days=TRAINING_DAYS)


def use(db: conftest.TestDatabase, monkeypatch) -> None:
    monkeypatch.setenv("SNIPER_DATABASE_URL", db.url)
    get_settings.cache_clear()


def train_six_months(db: conftest.TestDatabase, signal_strength: float):
    """Generate, backfill (two 91-day windows) and train on the first six months."""
    from sniper.flows.backfill import backfill
    from sniper.flows.train import build_dataset

    with db.connect(autocommit=True) as conn:
        generate(conn, market(signal_strength))
    backfill(window_start=START, window_days=91)
    backfill(window_start=START + timedelta(days=91), window_days=91)
    build_dataset.fn()  # the training flow's own build of the ml models
    return run_training(REQUEST)


def feed_forward_and_run_live(db: conftest.TestDatabase, forward_market: SynthConfig) -> list:
    """Months 7 and 8 into raw a day at a time, the live cycle at the end of every week (and
    the last day), as it would run at that moment."""
    from sniper.flows.live_materialize import live_materialize

    config = forward_market.model_copy(update={"days": None})
    path = build_minute_path(config, SYMBOL)
    generator = TickGenerator(config, SYMBOL, path)
    cycles = []
    day = FORWARD_START
    with db.connect(autocommit=True) as conn:
        write_regime_truth(conn, config, SYMBOL)
    while day < FORWARD_END:
        with db.connect(autocommit=True) as conn:
            write_day(conn, config, generator, path, (day - START).days, day)
        day += timedelta(days=1)
        if day.weekday() == 0 or day == FORWARD_END:  # a Monday 00:00: the week just closed
            as_of = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(seconds=3)
            cycles.append(live_materialize(as_of=as_of, catch_up_hours=24 * 7))
    return cycles


@pytest.fixture(scope="module")
def planted_base(pg_cluster, tmp_path_factory) -> Iterator[tuple[conftest.TestDatabase, object, float]]:
    """Six planted months, backfilled and trained on, deployed live: a template database."""
    started = time.perf_counter()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SNIPER_DATA_DIR", str(tmp_path_factory.mktemp("forward-state")))
        db = conftest._create_database(pg_cluster, "fwd")
        use(db, patch)
        outcome = train_six_months(db, STRENGTH)
        assert outcome.summary.gate.verdict == READY, outcome.summary.gate.report()
        deployed = run_cli("deploy", "--run", outcome.run_id, "--live")
        assert deployed.returncode == 0, deployed.stderr
        print(f"\nplanted base: 6 months generated, backfilled, trained, deployed in {time.perf_counter() - started:.0f} s")
        yield db, outcome
    get_settings.cache_clear()
    drop_scratch_database(pg_cluster, db.name)


@pytest.fixture
def forward_db(pg_cluster, planted_base, monkeypatch) -> Iterator[conftest.TestDatabase]:
    """A copy of the planted base, for one forward scenario."""
    base, _ = planted_base
    name, url = copy_scratch_database(pg_cluster, base.name, "fwdcopy")
    db = conftest.TestDatabase(name=name, url=url, cluster=pg_cluster)
    use(db, monkeypatch)
    yield db
    get_settings.cache_clear()
    drop_scratch_database(pg_cluster, name)


def stored_evaluation(db: conftest.TestDatabase, scope: str, key: str) -> dict:
    with db.connect() as conn:
        from psycopg.rows import dict_row

        conn.row_factory = dict_row
        return conn.execute("select * from ml.forward_evaluations where scope = %s and scope_key = %s"
                            " order by evaluation_id desc limit 1", (scope, key)).fetchone()


def test_planted_signal_forward_matches_its_walk_forward(forward_db, planted_base):
    from sniper.db.connection import connect
    from sniper.live.forward import evaluate_forward

    _, outcome = planted_base
    started = time.perf_counter()
    cycles = feed_forward_and_run_live(forward_db, market(STRENGTH))
    print(f"\nplanted forward: {len(cycles)} live cycles over 2 months in {time.perf_counter() - started:.0f} s")
    assert all(cycle.skipped is None for cycle in cycles)

    # Every forward bucket built once and scored once by the deployed run (live).
    days = (FORWARD_END - FORWARD_START).days
    assert forward_db.scalar("select count(*) from ops.live_buckets where bucket_start_at >= %s",
                             (FORWARD_START,)) == days * 288
    assert forward_db.rows("select run_id, deployment_status, count(*) from ml.entry_signals group by 1, 2") == [
        (outcome.run_id, "live", days * 288)]

    with connect() as conn:
        record = evaluate_forward(conn, "run", outcome.run_id)
    weeks = {w.week for w in record.weeks}
    assert {"2024-W27", "2024-W35"} <= weeks and len(weeks) == 9  # 2024-07-01 is a Monday, 08-31 a Saturday
    assert [m.month for m in record.months] == ["2024-07", "2024-08"]
    assert sum(w.n_trades for w in record.weeks) == sum(m.n_trades for m in record.months) == len(record.trades)
    # The forward win rate, counted here from the trades, against the walk-forward test win rate.
    wins = int((record.trades["net_return"] > 0).sum())
    low, high = win_rate_interval(wins, len(record.trades))
    walk_forward = forward_db.scalar("select win_rate from evaluation.model_metrics where run_id = %s"
                                     " and evaluation = 'walk_forward' and scope = 'overall'", (outcome.run_id,))
    print(f"planted forward record: {len(record.trades)} trades, win rate {wins / len(record.trades):.3f},"
          f" interval {low:.3f}..{high:.3f}, walk-forward {walk_forward:.3f}")
    assert len(record.trades) > 100
    assert low <= walk_forward <= high, (wins, len(record.trades), walk_forward)
    assert record.expectation.consistent is True
    stored = stored_evaluation(forward_db, "run", outcome.run_id)
    assert stored["n_trades"] == len(record.trades) and stored["expectation"]["consistent"] is True
    assert stored_evaluation(forward_db, "chain", f"synthetic:spot:{SYMBOL}")["n_trades"] == len(record.trades)


def test_signal_switched_off_forward_falls_to_chance_and_raises_the_alarms(forward_db, planted_base):
    _, outcome = planted_base
    started = time.perf_counter()
    feed_forward_and_run_live(forward_db, market(STRENGTH, signal_source="decoy"))
    print(f"\nswitched-off forward: 2 months in {time.perf_counter() - started:.0f} s")
    stored = stored_evaluation(forward_db, "run", outcome.run_id)
    print(f"switched-off forward record: {stored['n_trades']} trades, win rate {stored['win_rate']:.3f}"
          f" (walk-forward {stored['walk_forward_win_rate']:.3f}), Sharpe {stored['sharpe']},"
          f" diagnosis {stored['diagnosis']['message']!r}, alarms {[a['kind'] for a in stored['alarms']]}")
    assert stored["n_trades"] > 100
    walk_forward = stored["walk_forward_win_rate"]
    # Chance: triple-barrier trades with symmetric barriers and fees win a little under half.
    assert stored["win_rate"] < 0.52 and stored["expectation"]["consistent"] is False
    assert stored["expectation"]["high"] < walk_forward
    assert stored["diagnosis"]["urgent"] is True
    assert stored["diagnosis"]["message"].startswith("MORE DATA NEEDED URGENTLY: collect ")
    assert any(alarm["kind"] == "regime_change" for alarm in stored["alarms"]), stored["alarms"]
    with forward_db.connect() as conn:
        assert _urgent_regime(conn) == stored["diagnosis"]["scarcest_regime"] is not None


def test_without_any_signal_nothing_is_ever_deployed_live(database, tmp_path, monkeypatch):
    """A run trained where wins do not depend on any feature (a hand-made dataset, as in
    tests/hand_made_training.py: six months of the synthetic market would only take longer)."""
    from sniper.flows.train import deploy_paper

    monkeypatch.setenv("SNIPER_DATA_DIR", str(tmp_path / "state"))
    get_settings.cache_clear()
    outcome = train_on_hand_made_dataset(database, hand_made_dataset(edge=0.0))
    assert outcome.summary.gate.verdict == KEEP_COLLECTING
    refused = run_cli("deploy", "--run", outcome.run_id, "--live")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "may not go live: its verdict was KEEP COLLECTING DATA" in refused.stderr
    assert database.scalar("select count(*) from ml.deployments") == 0
    deploy_paper(outcome.run_id)  # what the weekly retrain does with its new run
    assert database.rows("select symbol, status from ml.deployments order by 1") == [
        ("BTCUSDT", "paper"), ("ETHUSDT", "paper")]  # one deployment per instrument the run was trained on
