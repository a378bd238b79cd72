"""The planner's priority: missing regimes first (bull, bear, sideways), then the newest weeks."""

from __future__ import annotations

import json
from datetime import date, timedelta

from sniper.backfill.planner import InstrumentState, load_state, plan_instrument
from sniper.db.migrate import migrate
from sniper.instruments import Instrument


def _days(first: date, last: date) -> frozenset[date]:
    return frozenset(first + timedelta(days=i) for i in range((last - first).days + 1))


JUNE, JULY, AUGUST, SEPTEMBER = date(2024, 6, 1), date(2024, 7, 1), date(2024, 8, 1), date(2024, 9, 1)
ALL_TICKS = _days(JUNE, date(2024, 9, 30))
BTC = Instrument("binance", "um", "BTCUSDT")
REGIMES = {
    JUNE: ("bull", "klines"),
    JULY: ("bear", "klines"),
    AUGUST: ("sideways", "klines"),
    SEPTEMBER: ("bull", "klines"),
}


def _state(materialized=frozenset(), missing=None) -> InstrumentState:
    missing = missing or {"bull": 2, "bear": 2, "sideways": 1, "months": 6}
    return InstrumentState(BTC, ALL_TICKS, frozenset(materialized), REGIMES, missing)


def test_newest_bull_month_first_then_the_older_one():
    windows = plan_instrument(_state(), windows=7, window_days=7)
    starts = [w.start for w in windows]
    # September (newest bull) in 7-day steps: 1, 8, 15, 22, 29; then June.
    assert starts[:5] == [date(2024, 9, d) for d in (1, 8, 15, 22, 29)]
    assert starts[5:7] == [date(2024, 6, 1), date(2024, 6, 8)]
    assert "2024-09 is bull" in windows[0].reason and "2 more bull months" in windows[0].reason


def test_regime_order_is_bull_then_bear_then_sideways():
    bull_done = {"bull": 0, "bear": 1, "sideways": 1, "months": 4}
    windows = plan_instrument(_state(missing=bull_done), windows=6, window_days=7)
    assert [w.start for w in windows[:5]] == [date(2024, 7, d) for d in (1, 8, 15, 22, 29)]
    # July's last window (29 Jul - 4 Aug) already covers August's first four days.
    assert windows[5].start == date(2024, 8, 5)
    assert "sideways" in windows[5].reason


def test_materialized_days_are_skipped_and_a_window_starts_at_the_first_gap():
    done = _days(date(2024, 9, 1), date(2024, 9, 10))
    windows = plan_instrument(_state(materialized=done), windows=1, window_days=3)
    assert windows[0].start == date(2024, 9, 11) and windows[0].days == 3


def test_when_regimes_are_covered_the_newest_weeks_come_next():
    covered = {"bull": 0, "bear": 0, "sideways": 0, "months": 2}
    windows = plan_instrument(_state(missing=covered), windows=3, window_days=7)
    # Monday-aligned weeks, newest first; the last week is cut by the end of the ticks.
    assert [w.start for w in windows] == [date(2024, 9, 30), date(2024, 9, 23), date(2024, 9, 16)]
    assert all("most recent unmaterialized week" in w.reason for w in windows)


def test_months_without_ticks_cannot_be_planned():
    state = InstrumentState(BTC, _days(AUGUST, date(2024, 8, 31)), frozenset(), REGIMES,
                        {"bull": 2, "bear": 2, "sideways": 1, "months": 6})
    windows = plan_instrument(state, windows=10, window_days=7)
    assert windows and all(AUGUST <= w.start <= date(2024, 8, 31) for w in windows)
    assert "sideways" in windows[0].reason


def test_nothing_left_plans_nothing():
    assert plan_instrument(_state(materialized=ALL_TICKS), windows=5, window_days=7) == []


def test_long_windows_take_whole_weeks_back_from_the_newest_day():
    done = ALL_TICKS - _days(date(2024, 7, 20), date(2024, 8, 31))
    covered = {"bull": 0, "bear": 0, "sideways": 0, "months": 1}
    windows = plan_instrument(_state(materialized=done, missing=covered), windows=5, window_days=31)
    # Newest day 31 Aug (a Saturday): four weeks back from its Monday is Monday 5 Aug;
    # what is left (20 Jul - 4 Aug, 16 days) fits one window and is taken from its start.
    assert [w.start for w in windows] == [date(2024, 8, 5), date(2024, 7, 20)]


def test_a_regime_the_latest_training_run_urgently_needs_goes_first():
    # Coverage is met, but the last run said MORE DATA NEEDED URGENTLY and named bear.
    covered = {"bull": 0, "bear": 0, "sideways": 0, "months": 0}
    state = InstrumentState(BTC, ALL_TICKS, frozenset(), REGIMES, covered, urgent_regime="bear")
    windows = plan_instrument(state, windows=6, window_days=7)
    # July is the only bear month: all of it first, then the newest weeks as usual.
    assert [w.start for w in windows[:5]] == [date(2024, 7, d) for d in (1, 8, 15, 22, 29)]
    assert all("needs more bear data urgently" in w.reason for w in windows[:5])
    assert windows[5].start == date(2024, 9, 30) and "most recent" in windows[5].reason


def test_an_urgent_regime_outranks_the_default_order():
    state = _state()
    urgent = InstrumentState(state.instrument, state.tick_days, state.materialized_days, REGIMES, state.missing, "sideways")
    windows = plan_instrument(urgent, windows=6, window_days=7)
    assert [w.start for w in windows[:5]] == [date(2024, 8, d) for d in (1, 8, 15, 22, 29)]
    # Then bull as before: September, the newest bull month.
    assert windows[5].start == date(2024, 9, 5)


def _store_run(conn, run_id: str, created_at: str, diagnosis: dict) -> None:
    conn.execute(
        "insert into evaluation.model_runs (run_id, created_at, model_kind, features, feature_columns,"
        " data_start_date, data_end_date, train_start_date, params, code_version, artifact_dir, verdict,"
        " exit_code, criteria, alarms, diagnosis, n_trades, feature_importance) values (%s, %s, 'xgboost',"
        " '{ofi}', '{ofi_normalized}', '2024-06-01', '2024-12-01', '2024-09-01', '{}', 'test', '/tmp',"
        " 'KEEP COLLECTING DATA', 3, '[]', '[]', %s, 0, '{}')",
        (run_id, created_at, json.dumps(diagnosis)),
    )


def test_the_planner_reads_the_latest_runs_diagnosis(database):
    with database.connect(autocommit=True) as conn:
        migrate(conn)
        assert load_state(conn, BTC).urgent_regime is None  # no run yet
        _store_run(conn, "old", "2024-12-01", {"urgent": True, "reasons": ["x"], "scarcest_regime": "bull",
                                               "message": "MORE DATA NEEDED URGENTLY"})
        _store_run(conn, "new", "2024-12-08", {"urgent": True, "reasons": ["x"], "scarcest_regime": "sideways",
                                               "message": "MORE DATA NEEDED URGENTLY"})
        assert load_state(conn, BTC).urgent_regime == "sideways"
        _store_run(conn, "newest", "2024-12-15", {"urgent": False, "reasons": [], "scarcest_regime": "bear",
                                                  "message": "no urgent need for data"})
        assert load_state(conn, BTC).urgent_regime is None


def test_a_gap_shorter_than_a_window_is_filled_by_one_window():
    # Everything but 2 - 31 August is materialized: one 31-day window holds the whole gap,
    # rather than a Monday-aligned window and a second one for the days before that Monday.
    covered = {"bull": 0, "bear": 0, "sideways": 0, "months": 0}
    done = ALL_TICKS - _days(date(2024, 8, 2), date(2024, 8, 31))
    windows = plan_instrument(_state(materialized=done, missing=covered), windows=2, window_days=31)
    assert [(w.start, w.days) for w in windows] == [(date(2024, 8, 2), 31)]
