"""The forward record of a deployed run, from hand-made outcomes whose figures are counted here.

A real run (trained on the hand-made dataset of tests/test_live_replay.py) is deployed; its
forward outcomes are written by hand into a table shaped like ml.forward_outcomes: one
BTCUSDT trade every four hours for six ISO weeks from Monday 2024-07-01, none overlapping,
winning 70 % of the time in July and 40 % in August. Expected: the weekly and monthly win rates
counted here, the Wilson interval computed here from its formula, the regime-change alarm
(July to August moves 30 points), MORE DATA NEEDED URGENTLY naming the regime with the fewest
labelled rows of the dataset (sideways: 60 days of hourly rows per symbol against 61), which
the backfill planner then reads; `sniper status` and `sniper report` show it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from sniper.backfill.planner import _urgent_regime
from sniper.db.connection import connect
from sniper.live import forward
from tests.conftest import run_cli
from tests.test_live_replay import trained  # noqa: F401 - the fixture: a run on a hand-made dataset

START = datetime(2024, 7, 1, tzinfo=UTC)  # a Monday
WEEKS = 6


def hand_made_outcomes(run_id: str) -> pd.DataFrame:
    rows = []
    entry = START
    while entry < START + timedelta(weeks=WEEKS):
        july = entry.month == 7
        index = len(rows)
        win = (index % 10) < (7 if july else 4)
        rows.append({
            "exchange": "binance", "market": "spot", "symbol": "BTCUSDT",
            "bucket_start_at": entry - timedelta(minutes=5), "run_id": run_id, "deployment_status": "live",
            "side": "long" if index % 3 else "short", "threshold": 0.6, "win_probability": 0.65,
            "entry_at": entry, "outcome": "take_profit" if win else "stop_loss",
            "net_return": 0.004 if win else -0.003, "exit_at": entry + timedelta(minutes=30),
            "day_regime": "bull" if july else "bear", "month_regime": "bull" if july else "bear",
            "recorded_at": START,
        })
        entry += timedelta(hours=4)
    return pd.DataFrame(rows)


def wilson(wins: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = wins / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def write_outcomes(database, frame: pd.DataFrame) -> None:
    """The outcomes into a table shaped like ml.forward_outcomes."""
    with database.connect() as conn:
        conn.execute(
            "create table ml.forward_outcomes (exchange text, market text, symbol text, bucket_start_at timestamptz,"
            " run_id text, deployment_status text, side text, threshold float8, win_probability float8,"
            " entry_at timestamptz, outcome text, net_return float8, exit_at timestamptz, day_regime text,"
            " month_regime text, recorded_at timestamptz)")
        with conn.cursor().copy(f"copy ml.forward_outcomes ({', '.join(frame.columns)}) from stdin") as copy:
            for row in frame.itertuples(index=False):
                copy.write_row(row)


@pytest.fixture
def recorded(database, trained):  # noqa: F811
    deployed = run_cli("deploy", "--run", trained.run_id)
    assert deployed.returncode == 0, deployed.stderr
    frame = hand_made_outcomes(trained.run_id)
    write_outcomes(database, frame)
    return frame


def test_the_forward_record_counts_weeks_months_and_raises_the_alarms(database, trained, recorded):  # noqa: F811
    wins = recorded["net_return"] > 0
    iso = recorded["entry_at"].dt.isocalendar()
    by_week = recorded.assign(week=iso["year"].astype(str) + "-W" + iso["week"].map("{:02d}".format), win=wins)
    expected_weeks = {week: (len(rows), int(rows["win"].sum())) for week, rows in by_week.groupby("week")}
    by_month = recorded.assign(month=recorded["entry_at"].dt.strftime("%Y-%m"), win=wins)
    expected_months = {month: (len(rows), int(rows["win"].sum())) for month, rows in by_month.groupby("month")}

    with connect() as conn:
        record = forward.evaluate_forward(conn, "run", trained.run_id)
        forward.store(conn, record)
        conn.commit()
        planned_first = _urgent_regime(conn)
    assert len(record.trades) == len(recorded)  # none overlap: every outcome is a trade
    assert {w.week: (w.n_trades, w.n_wins) for w in record.weeks} == expected_weeks
    assert {m.month: (m.n_trades, m.n_wins) for m in record.months} == expected_months
    assert record.overall["win_rate"] == pytest.approx(wins.mean())
    assert record.overall["long_share"] == pytest.approx((recorded["side"] == "long").mean())

    # Forward against walk-forward: the interval from Wilson's formula, here.
    low, high = wilson(int(wins.sum()), len(recorded))
    assert (record.expectation.low, record.expectation.high) == (pytest.approx(low), pytest.approx(high))
    walk_forward = database.scalar("select win_rate from evaluation.model_metrics where run_id = %s"
                                   " and evaluation = 'walk_forward' and scope = 'overall'", (trained.run_id,))
    assert record.expectation.walk_forward_win_rate == pytest.approx(walk_forward)
    assert record.expectation.consistent is (low <= walk_forward <= high)

    # August wins 40 %: urgent, naming the regime with the fewest labelled dataset rows; July to
    # August moves the win rate by 30 points: the regime-change alarm.
    july, august = (expected_months[m][1] / expected_months[m][0] for m in ("2024-07", "2024-08"))
    assert august < 0.5 and abs(august - july) > 0.1
    assert record.diagnosis.urgent and record.diagnosis.scarcest_regime == "sideways"
    assert any(a.kind == "regime_change" and a.month == "2024-08" for a in record.alarms)
    # The last weeks lose: not enough data, whatever the Sharpe.
    assert not record.is_enough and not record.enough[0].passed
    assert planned_first == "sideways"

    status = run_cli("status")
    assert status.returncode == 0, status.stderr
    assert f"forward record of {trained.run_id}: {len(recorded)} trades" in status.stdout
    assert "weekly win rate (line 55%" in status.stdout and "MORE DATA NEEDED URGENTLY" in status.stdout
    report = run_cli("report", "--run", trained.run_id)
    assert report.returncode == 0, report.stderr
    page = open(report.stdout.strip()).read()
    assert 'id="forward"' in page and 'id="plot-forward-weeks"' in page and "forward-week-2024-W27" in page
    assert "forward-week-line" in page and 'id="plot-forward-equity"' in page


def test_a_month_recorded_under_several_labels_is_judged_under_one(database, trained):  # noqa: F811
    """Outcomes recorded while August ran carry its label so far (bull in its first three days, then
    bear): the month, its trades and its days are all judged as bear, the label most of them
    carry; July's trades alone are bull."""
    deployed = run_cli("deploy", "--run", trained.run_id)
    assert deployed.returncode == 0, deployed.stderr
    frame = hand_made_outcomes(trained.run_id)
    august = frame["entry_at"].dt.month == 8
    first_days_of_august = august & (frame["entry_at"] < datetime(2024, 8, 4, tzinfo=UTC))
    frame.loc[first_days_of_august, "month_regime"] = "bull"
    assert 0 < first_days_of_august.sum() < (august & ~first_days_of_august).sum()
    write_outcomes(database, frame)
    with connect() as conn:
        record = forward.evaluate_forward(conn, "run", trained.run_id)
    assert [(m.month, m.regime) for m in record.months] == [("2024-07", "bull"), ("2024-08", "bear")]
    assert record.by_regime["bull"]["n_trades"] == int((~august).sum())
    assert record.by_regime["bear"]["n_trades"] == int(august.sum())
    assert record.by_regime["bear"]["win_rate"] == pytest.approx((frame.loc[august, "net_return"] > 0).mean())
