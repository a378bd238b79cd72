"""Train/test splits in time that leak no label: calendar walk-forward and leave-one-regime-out.

Every sample is a labelled entry: it enters at ``times[i]`` and its label (the
triple-barrier outcome) is known at ``label_end[i]``, so it carries information
about the closed interval ``[times[i], label_end[i]]``. A fold's test samples
cover a *test span* ``[min test entry, max test label end]``. Two rules keep
training labels out of that span (López de Prado 2018, AFML §7.4):

* **purge**: a training sample whose interval overlaps the test span is dropped
  (``times[i] <= span_end and label_end[i] >= span_start``, end points included);
* **embargo**: a training sample that enters within ``embargo`` after the span
  (``span_end < times[i] <= span_end + embargo``) is dropped too, because its
  features look back at prices inside the test span.

A walk-forward fold trains strictly before it tests, so only the purge can bite
there; the embargo matters where training data follows test data, which is the
leave-one-regime-out case. Splits never shuffle: positions come out sorted.

Timestamps may be naive (taken as UTC) or tz-aware (converted to UTC); calendar
months are UTC months. Folds hold integer *positions* (``iloc``) into the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

MONTHS_PER_YEAR = 12
DEFAULT_EMBARGO = timedelta(days=1)


class WalkForwardConfig(BaseModel):
    """Rolling calendar windows: ``train_months`` to train, the next ``test_months`` to test."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    train_months: int = Field(default=4, ge=1)
    test_months: int = Field(default=2, ge=1)
    step_months: int | None = Field(default=None, ge=1, description="roll forward by this; default test_months")

    @property
    def step(self) -> int:
        return self.step_months or self.test_months


class RegimeSplitConfig(BaseModel):
    """Leave-one-regime-out: the embargo after each contiguous run of the left-out regime."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    embargo: timedelta = Field(default=DEFAULT_EMBARGO)

    @field_validator("embargo")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError(f"embargo must not be negative, got {value}")
        return value


@dataclass(frozen=True, eq=False)
class Fold:
    """One train/test split: sorted integer positions plus what they mean (compared by identity)."""

    name: str
    train: np.ndarray
    test: np.ndarray
    purged: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    embargoed: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    train_months: tuple[str, ...] = ()
    test_months: tuple[str, ...] = ()
    regime: str | None = None


def _utc(values: pd.Series, name: str) -> pd.Series:
    if not isinstance(values, pd.Series):
        raise ValueError(f"{name} must be a pandas Series")
    converted = pd.to_datetime(values, utc=True)
    if converted.isna().any():
        raise ValueError(f"{name} has missing timestamps")
    return converted


def _aligned(*series: pd.Series) -> None:
    first = series[0]
    for other in series[1:]:
        if len(other) != len(first) or not other.index.equals(first.index):
            raise ValueError("times, label_end, regime and groups must share one index, in the same order")


def _timeline(times: pd.Series, label_end: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    _aligned(times, label_end)
    entry = _utc(times, "times")
    end = _utc(label_end, "label_end")
    if (end < entry).any():
        first = int(np.flatnonzero((end < entry).to_numpy())[0])
        raise ValueError(f"label_end before its entry time at position {first}")
    return entry.to_numpy(dtype="datetime64[ns]"), end.to_numpy(dtype="datetime64[ns]")


def _month_index(entry: np.ndarray) -> np.ndarray:
    stamps = pd.DatetimeIndex(entry)
    return np.asarray(stamps.year * MONTHS_PER_YEAR + stamps.month - 1, dtype=np.int64)


def _month_name(index: int) -> str:
    year, month = divmod(int(index), MONTHS_PER_YEAR)
    return f"{year:04d}-{month + 1:02d}"


def _months_of(positions: np.ndarray, months: np.ndarray) -> tuple[str, ...]:
    return tuple(_month_name(m) for m in np.unique(months[positions]))


def _overlapping(candidates: np.ndarray, entry, end, span_start, span_end) -> np.ndarray:
    hit = (entry[candidates] <= span_end) & (end[candidates] >= span_start)
    return candidates[hit]


def walk_forward_folds(
    times: pd.Series, label_end: pd.Series, config: WalkForwardConfig | None = None
) -> list[Fold]:
    """Rolling calendar-month folds, purged of training labels that reach the test span.

    Windows start at the first month with data: train on months ``[m, m + train)``,
    test on ``[m + train, m + train + test)``, then ``m += step``. Only complete
    windows are used (a window may not extend past the last month with data).
    Folds with no test sample or no training sample left after purging are skipped.

    >>> times = pd.Series(pd.to_datetime(["2024-01-10", "2024-01-30", "2024-02-10", "2024-03-10"]))
    >>> ends = times + pd.Timedelta(days=12)   # the Jan 30 label ends Feb 11, inside the test span
    >>> cfg = WalkForwardConfig(train_months=1, test_months=1)
    >>> folds = walk_forward_folds(times, ends, cfg)
    >>> [(f.name, f.train.tolist(), f.purged.tolist(), f.test.tolist()) for f in folds]
    [('wf-2024-02', [0], [1], [2]), ('wf-2024-03', [2], [], [3])]
    """
    config = config or WalkForwardConfig()
    entry, end = _timeline(times, label_end)
    if entry.size == 0:
        return []
    months = _month_index(entry)
    positions = np.arange(entry.size, dtype=np.int64)
    folds: list[Fold] = []
    start, last = int(months.min()), int(months.max())
    while start + config.train_months + config.test_months - 1 <= last:
        test_start = start + config.train_months
        in_train = (months >= start) & (months < test_start)
        in_test = (months >= test_start) & (months < test_start + config.test_months)
        test = positions[in_test]
        if test.size:
            candidates = positions[in_train]
            purged = _overlapping(candidates, entry, end, entry[test].min(), end[test].max())
            train = np.setdiff1d(candidates, purged)
            if train.size:
                folds.append(
                    Fold(
                        name=f"wf-{_month_name(test_start)}",
                        train=train,
                        test=test,
                        purged=purged,
                        train_months=tuple(_month_name(m) for m in range(start, test_start)),
                        test_months=tuple(
                            _month_name(m) for m in range(test_start, test_start + config.test_months)
                        ),
                    )
                )
        start += config.step
    return folds


def _runs(sorted_positions: np.ndarray, is_target: np.ndarray) -> list[np.ndarray]:
    """Maximal runs of consecutive target samples in an already time-sorted sequence."""
    flags = is_target[sorted_positions].astype(np.int8)
    edges = np.diff(np.concatenate(([0], flags, [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [sorted_positions[a:b] for a, b in zip(starts, stops, strict=True)]


def leave_one_regime_out_folds(
    times: pd.Series,
    label_end: pd.Series,
    regime: pd.Series,
    *,
    groups: pd.Series | None = None,
    config: RegimeSplitConfig | None = None,
) -> list[Fold]:
    """One fold per regime R: test on every sample of R, train on the others minus purge and embargo.

    The left-out regime's samples form runs (spells) of consecutive samples in time
    order; with ``groups`` (e.g. the instrument, when regimes are per instrument and month)
    runs, purge and embargo are taken within each group, otherwise over all samples.
    Each spell's span is purged from training and followed by the embargo.

    >>> times = pd.Series(pd.date_range("2024-01-01", periods=5, freq="D"))
    >>> ends = times + pd.Timedelta(hours=36)
    >>> regime = pd.Series(["bull", "bear", "bull", "bull", "bull"])
    >>> cfg = RegimeSplitConfig(embargo=pd.Timedelta(hours=12))
    >>> fold = leave_one_regime_out_folds(times, ends, regime, config=cfg)[0]
    >>> fold.regime, fold.test.tolist(), fold.purged.tolist(), fold.embargoed.tolist(), fold.train.tolist()
    ('bear', [1], [0, 2], [3], [4])
    """
    config = config or RegimeSplitConfig()
    entry, end = _timeline(times, label_end)
    _aligned(times, regime)
    if regime.isna().any():
        raise ValueError("regime has missing labels")
    labels = regime.astype(str).to_numpy()
    if groups is not None:
        _aligned(times, groups)
        if groups.isna().any():
            raise ValueError("groups has missing values")
        group_codes = pd.factorize(groups)[0]
    else:
        group_codes = np.zeros(entry.size, dtype=np.int64)
    months = _month_index(entry)
    positions = np.arange(entry.size, dtype=np.int64)
    embargo = np.timedelta64(pd.Timedelta(config.embargo).value, "ns")
    by_group = {
        code: positions[group_codes == code][np.argsort(entry[group_codes == code], kind="stable")]
        for code in np.unique(group_codes)
    }

    folds: list[Fold] = []
    for left_out in sorted(set(labels)):
        is_test = labels == left_out
        test = positions[is_test]
        purged_parts, embargoed_parts = [], []
        for ordered in by_group.values():
            candidates = ordered[~is_test[ordered]]
            for spell in _runs(ordered, is_test):
                span_start, span_end = entry[spell].min(), end[spell].max()
                purged = _overlapping(candidates, entry, end, span_start, span_end)
                after = candidates[(entry[candidates] > span_end) & (entry[candidates] <= span_end + embargo)]
                purged_parts.append(purged)
                embargoed_parts.append(after)
        purged = np.unique(np.concatenate(purged_parts or [np.array([], dtype=np.int64)]))
        embargoed = np.setdiff1d(np.concatenate(embargoed_parts or [np.array([], dtype=np.int64)]), purged)
        train = np.setdiff1d(positions[~is_test], np.concatenate((purged, embargoed)))
        if train.size == 0:
            continue
        folds.append(
            Fold(
                name=f"loro-{left_out}",
                train=train,
                test=test,
                purged=purged,
                embargoed=np.unique(embargoed),
                train_months=_months_of(train, months),
                test_months=_months_of(test, months),
                regime=left_out,
            )
        )
    return folds
