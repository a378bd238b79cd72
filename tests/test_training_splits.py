"""Splits on hand-built timelines: exact positions, purge and embargo worked out by hand."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from sniper.training.splits import (
    RegimeSplitConfig,
    WalkForwardConfig,
    leave_one_regime_out_folds,
    walk_forward_folds,
)


def stamps(*texts: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(texts)))


# Walk-forward timeline: (entry, label end). Positions in comments.
WF_ROWS = [
    ("2024-01-15 00:00", "2024-01-16 00:00"),  # 0
    ("2024-02-15 00:00", "2024-02-16 00:00"),  # 1
    ("2024-03-15 00:00", "2024-03-16 00:00"),  # 2
    ("2024-04-15 00:00", "2024-04-16 00:00"),  # 3
    ("2024-04-29 00:00", "2024-05-02 00:00"),  # 4: label reaches into May
    ("2024-04-30 23:00", "2024-05-01 00:00"),  # 5: label ends exactly at the first May entry
    ("2024-05-01 00:00", "2024-05-01 06:00"),  # 6: first test sample of the first fold
    ("2024-05-15 00:00", "2024-05-16 00:00"),  # 7
    ("2024-06-15 00:00", "2024-06-16 00:00"),  # 8
    ("2024-06-30 20:00", "2024-07-01 02:00"),  # 9: label reaches into July
    ("2024-07-01 00:00", "2024-07-01 01:00"),  # 10
    ("2024-07-15 00:00", "2024-07-16 00:00"),  # 11
    ("2024-08-15 00:00", "2024-08-16 00:00"),  # 12
]


def wf_timeline(rows=WF_ROWS) -> tuple[pd.Series, pd.Series]:
    return stamps(*(r[0] for r in rows)), stamps(*(r[1] for r in rows))


class TestWalkForward:
    def test_default_four_months_train_two_months_test(self):
        # Data spans Jan-Aug: windows Jan-Apr | May-Jun, then Mar-Jun | Jul-Aug;
        # the next one (May-Aug | Sep-Oct) would run past August.
        times, ends = wf_timeline()
        folds = walk_forward_folds(times, ends)
        assert [f.name for f in folds] == ["wf-2024-05", "wf-2024-07"]

        first, second = folds
        assert first.train_months == ("2024-01", "2024-02", "2024-03", "2024-04")
        assert first.test_months == ("2024-05", "2024-06")
        assert first.test.tolist() == [6, 7, 8, 9]
        # Test span starts 2024-05-01 00:00. Labels ending at or after it: 4 (May 2)
        # and 5 (May 1 00:00, the end point counts). 0-3 end in their own month.
        assert first.purged.tolist() == [4, 5]
        assert first.train.tolist() == [0, 1, 2, 3]

        assert second.train_months == ("2024-03", "2024-04", "2024-05", "2024-06")
        assert second.test.tolist() == [10, 11, 12]
        # Test span starts 2024-07-01 00:00: only 9 (ends July 1 02:00) reaches it.
        # 4 and 5 ended in May, which is training time for this fold.
        assert second.purged.tolist() == [9]
        assert second.train.tolist() == [2, 3, 4, 5, 6, 7, 8]
        assert second.embargoed.size == 0 and second.regime is None

    def test_no_training_label_reaches_the_test_period(self):
        times, ends = wf_timeline()
        for fold in walk_forward_folds(times, ends):
            assert not set(fold.train) & set(fold.test)
            assert ends.iloc[fold.train].max() < times.iloc[fold.test].min()

    def test_step_and_window_lengths_are_parameters(self):
        # Two months train, one test, step one: test months Mar, Apr, ..., Aug.
        times, ends = wf_timeline()
        config = WalkForwardConfig(train_months=2, test_months=1, step_months=1)
        folds = walk_forward_folds(times, ends, config)
        expected_months = ["2024-03", "2024-04", "2024-05", "2024-06", "2024-07", "2024-08"]
        assert [f.test_months for f in folds] == [(month,) for month in expected_months]
        may = folds[2]
        assert may.train_months == ("2024-03", "2024-04")
        assert may.train.tolist() == [2, 3] and may.purged.tolist() == [4, 5]
        assert may.test.tolist() == [6, 7]

    def test_incomplete_last_window_is_not_used(self):
        times, ends = wf_timeline(WF_ROWS[:9])  # Jan .. Jun 15
        assert [f.name for f in walk_forward_folds(times, ends)] == ["wf-2024-05"]
        times, ends = wf_timeline(WF_ROWS[:8])  # Jan .. May 15: no complete test window
        assert walk_forward_folds(times, ends) == []

    def test_fold_without_test_samples_is_skipped(self):
        # No data in May-Jun: the first window has nothing to test.
        rows = [r for r in WF_ROWS if not r[0].startswith(("2024-05", "2024-06"))]
        times, ends = wf_timeline(rows)
        folds = walk_forward_folds(times, ends)
        assert [f.name for f in folds] == ["wf-2024-07"]
        # Positions in the reduced timeline: 0-5 as before, then Jul 1 (6), Jul 15 (7), Aug 15 (8).
        # Training months Mar-Jun hold 2, 3, 4, 5; none of their labels reaches July.
        assert folds[0].train.tolist() == [2, 3, 4, 5] and folds[0].purged.size == 0
        assert folds[0].test.tolist() == [6, 7, 8]

    def test_months_are_utc_months(self):
        # 2024-05-01 00:30 in Berlin is 2024-04-30 22:30 UTC: an April (training) sample.
        berlin = pd.to_datetime(["2024-04-10 12:00", "2024-05-01 00:30", "2024-05-10 12:00"])
        times = pd.Series(berlin.tz_localize("Europe/Berlin"))
        ends = times + pd.Timedelta(minutes=10)
        fold = walk_forward_folds(times, ends, WalkForwardConfig(train_months=1, test_months=1))[0]
        assert fold.train.tolist() == [0, 1] and fold.test.tolist() == [2]

    def test_positions_follow_input_order_without_shuffling(self):
        # Reverse the rows: positions refer to the reversed frame, and come out sorted.
        times, ends = wf_timeline()
        reversed_times, reversed_ends = times[::-1].reset_index(drop=True), ends[::-1].reset_index(drop=True)
        first = walk_forward_folds(reversed_times, reversed_ends)[0]
        last = len(WF_ROWS) - 1
        assert first.test.tolist() == sorted(last - p for p in [6, 7, 8, 9])
        assert first.train.tolist() == sorted(last - p for p in [0, 1, 2, 3])
        assert np.all(np.diff(first.train) > 0)

    def test_rejects_bad_input(self):
        times, ends = wf_timeline()
        with pytest.raises(ValueError, match="before its entry"):
            walk_forward_folds(times, times - pd.Timedelta(minutes=1))
        with pytest.raises(ValueError, match="share one index"):
            walk_forward_folds(times, ends.iloc[1:])
        with pytest.raises(ValueError, match="missing"):
            walk_forward_folds(times.where(times.index != 3), ends)
        with pytest.raises(ValidationError):
            WalkForwardConfig(train_months=0)


# Leave-one-regime-out timeline: one sample a day at midnight, labels end 30 hours later
# (06:00 the next day). Regimes:  day 1  2  3  4  5  6  7  8  9  10
#                               bull bull bear bear bull bull bull bear bull bull
DAYS = pd.Series(pd.date_range("2024-01-01", periods=10, freq="D"))
DAY_ENDS = DAYS + pd.Timedelta(hours=30)
DAY_REGIMES = pd.Series(["bull", "bull", "bear", "bear", "bull", "bull", "bull", "bear", "bull", "bull"])


class TestLeaveOneRegimeOut:
    def test_purge_and_embargo_around_each_spell(self):
        # Bear spells: positions [2, 3] with span [Jan 3 00:00, Jan 5 06:00], and [7]
        # with span [Jan 8 00:00, Jan 9 06:00]. Embargo one day after each span end.
        # Spell 1: 1 ends Jan 3 06:00 (overlaps), 4 enters Jan 5 00:00 (inside): purged;
        #          5 enters Jan 6 00:00, within (Jan 5 06:00, Jan 6 06:00]: embargoed.
        # Spell 2: 6 ends Jan 8 06:00 (overlaps), 8 enters Jan 9 00:00 (inside): purged;
        #          9 enters Jan 10 00:00, within (Jan 9 06:00, Jan 10 06:00]: embargoed.
        # Bull as the left-out regime leaves no training sample, so there is no bull fold.
        config = RegimeSplitConfig(embargo=timedelta(days=1))
        folds = leave_one_regime_out_folds(DAYS, DAY_ENDS, DAY_REGIMES, config=config)
        assert [f.name for f in folds] == ["loro-bear"]
        bear = folds[0]
        assert bear.regime == "bear"
        assert bear.test.tolist() == [2, 3, 7]
        assert bear.purged.tolist() == [1, 4, 6, 8]
        assert bear.embargoed.tolist() == [5, 9]
        assert bear.train.tolist() == [0]
        assert bear.test_months == ("2024-01",) and bear.train_months == ("2024-01",)

    def test_without_embargo_only_the_purge_applies(self):
        config = RegimeSplitConfig(embargo=timedelta(0))
        folds = leave_one_regime_out_folds(DAYS, DAY_ENDS, DAY_REGIMES, config=config)
        bear = folds[0]
        assert bear.purged.tolist() == [1, 4, 6, 8]
        assert bear.embargoed.size == 0
        assert bear.train.tolist() == [0, 5, 9]

    def test_bull_fold_when_labels_are_short(self):
        # Labels end 1 hour after entry: nothing reaches a neighbouring day, so the
        # purge is empty. Embargo 1 day: the first sample after each left-out spell,
        # entering 23 hours after the spell's last label ends, is embargoed.
        # Bull spells end on days 2, 7 and 10: the samples of days 3 and 8 (2 and 7) go.
        ends = DAYS + pd.Timedelta(hours=1)
        folds = {f.name: f for f in leave_one_regime_out_folds(DAYS, ends, DAY_REGIMES)}
        bull = folds["loro-bull"]
        assert bull.test.tolist() == [0, 1, 4, 5, 6, 8, 9]
        assert bull.purged.size == 0
        assert bull.embargoed.tolist() == [2, 7]
        assert bull.train.tolist() == [3]
        bear = folds["loro-bear"]
        assert bear.embargoed.tolist() == [4, 8] and bear.train.tolist() == [0, 1, 5, 6, 9]

    def test_groups_keep_purging_within_a_symbol(self):
        # Two symbols, one sample a day each, labels ending 30 hours later:
        # pos  symbol day regime
        #  0    A     1   bull
        #  1    B     1   bull
        #  2    A     2   bear   <- A's bear spell, span [Jan 2 00:00, Jan 3 06:00]
        #  3    B     2   bull
        #  4    A     3   bull
        #  5    B     3   bull
        #  6    A     4   bull
        #  7    B     4   bear   <- B's bear spell, span [Jan 4 00:00, Jan 5 06:00]
        days = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
        times = pd.Series(pd.to_datetime([day for day in days for _symbol in "AB"]))
        ends = times + pd.Timedelta(hours=30)
        regime = pd.Series(["bull", "bull", "bear", "bull", "bull", "bull", "bull", "bear"])
        symbol = pd.Series(["A", "B"] * 4)
        config = RegimeSplitConfig(embargo=timedelta(0))
        folds = leave_one_regime_out_folds(times, ends, regime, groups=symbol, config=config)
        bear = next(f for f in folds if f.regime == "bear")
        # A: 0 ends Jan 2 06:00 and 4 enters Jan 3 00:00, both inside A's span; 6 is not.
        # B: 5 ends Jan 4 06:00, inside B's span; 1 and 3 end before Jan 4.
        assert bear.test.tolist() == [2, 7]
        assert bear.purged.tolist() == [0, 4, 5]
        assert bear.train.tolist() == [1, 3, 6]
        # Without groups, the spans purge across symbols: B's 1, 3 and A's 6 go as well,
        # which leaves no training sample at all, for either regime.
        assert leave_one_regime_out_folds(times, ends, regime, config=config) == []

    def test_no_training_interval_overlaps_a_test_interval(self):
        for config in (RegimeSplitConfig(embargo=timedelta(0)), RegimeSplitConfig()):
            for ends in (DAY_ENDS, DAYS + pd.Timedelta(hours=1)):
                for fold in leave_one_regime_out_folds(DAYS, ends, DAY_REGIMES, config=config):
                    assert not set(fold.train) & set(fold.test)
                    for i in fold.train:
                        for j in fold.test:
                            disjoint = ends[i] < DAYS[j] or DAYS[i] > ends[j]
                            assert disjoint, (fold.name, i, j)

    def test_rejects_bad_input(self):
        with pytest.raises(ValueError, match="missing labels"):
            leave_one_regime_out_folds(DAYS, DAY_ENDS, DAY_REGIMES.where(DAY_REGIMES.index != 2))
        with pytest.raises(ValueError, match="share one index"):
            leave_one_regime_out_folds(DAYS, DAY_ENDS, DAY_REGIMES.iloc[:5])
        with pytest.raises(ValueError, match="share one index"):
            leave_one_regime_out_folds(DAYS, DAY_ENDS, DAY_REGIMES, groups=pd.Series(["A"] * 9))
        with pytest.raises(ValidationError, match="negative"):
            RegimeSplitConfig(embargo=timedelta(hours=-1))
