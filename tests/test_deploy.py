"""`sniper deploy` and `sniper score` through the installed CLI: a run is deployed as paper for
the instruments it was evaluated on, twice is once; a run that does not exist, whose columns the
dataset no longer produces, whose model files are gone, or (for --live) whose verdict was not
READY is refused with one line, exit 2, and nothing written."""

from __future__ import annotations

import json
import shutil

from sniper.training.gate import READY
from tests.conftest import run_cli
from tests.test_live_replay import trained  # noqa: F401 - the fixture: a run on a hand-made dataset


def deployments(database) -> list[tuple]:
    return database.rows("select exchange, market, symbol, run_id, status from ml.deployments order by 1, 2, 3")


def assert_refused(result, *phrases: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def test_deploy_as_paper_for_the_run_s_instruments_and_twice_is_once(database, trained):  # noqa: F811
    for _ in range(2):
        done = run_cli("deploy", "--run", trained.run_id)
        assert done.returncode == 0, done.stderr
    assert deployments(database) == [("binance", "spot", symbol, trained.run_id, "paper")
                                     for symbol in ("BTCUSDT", "ETHUSDT")]
    assert "binance:spot:ETHUSDT: run " in done.stdout and "deployed as paper" in done.stdout


def test_refusals_are_one_line_exit_2_and_write_nothing(database, trained):  # noqa: F811
    assert_refused(run_cli("deploy", "--run", "20990101T000000Z-nope"), "no training run '20990101T000000Z-nope'")
    if trained.summary.gate.verdict != READY:
        assert_refused(run_cli("deploy", "--run", trained.run_id, "--live"), "may not go live")
    metadata = trained.artifact_dir / "metadata.json"
    kept = metadata.read_text()
    metadata.write_text(json.dumps({**json.loads(kept), "threshold": None}))
    assert_refused(run_cli("deploy", "--run", trained.run_id), "chose no entry threshold")
    metadata.write_text(kept)
    with database.connect() as conn:  # the dataset no longer produces a column the run needs
        conn.execute("alter table ml.training_dataset rename column flow_imbalance_15m to flow_imbalance_30m")
    assert_refused(run_cli("deploy", "--run", trained.run_id),
                   "does not match the warehouse", "no longer produces flow_imbalance_15m")
    with database.connect() as conn:
        conn.execute("alter table ml.training_dataset rename column flow_imbalance_30m to flow_imbalance_15m")
    shutil.move(trained.artifact_dir / "model_long.json", trained.artifact_dir.parent / "moved.json")
    assert_refused(run_cli("deploy", "--run", trained.run_id), "model files missing")
    assert deployments(database) == []


def test_score_without_a_deployed_model_says_so(database):
    done = run_cli("score")
    assert done.returncode == 0 and "nothing to score: no model is deployed" in done.stdout, done.stderr
    assert database.scalar("select count(*) from ml.entry_signals") == 0
