"""Text files read in bounded batches of raw lines, with the pieces every parser shares.

A parser keeps each line's number and raw text until the line is either turned into a
row or rejected, so a reject always carries exactly what the file said.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import TextIO

import numpy as np
import pandas as pd

# A rejected line is stored as text; PostgreSQL text cannot hold NUL, and a runaway
# "line" (a binary file has few newlines) must not bloat the rejects table.
MAX_REJECT_TEXT = 4_000


@dataclass(frozen=True)
class Reject:
    line_number: int
    raw_text: str
    reason: str


@dataclass
class LineBatch:
    """Consecutive lines of a file; ``numbers[i]`` is the 1-based line number of ``lines[i]``."""

    numbers: np.ndarray
    lines: list[str]


@dataclass(frozen=True)
class RowOrigins:
    """The input line of each row of one table's frame: row ``i`` is line ``lines.numbers[index[i]]``.

    Kept so that a row refused at load time (a conflicting duplicate id) becomes a reject
    with its line number and raw text, like any row refused while parsing.
    """

    lines: LineBatch
    index: np.ndarray

    def reject(self, row: int, reason: str) -> Reject:
        position = int(self.index[row])
        return Reject(int(self.lines.numbers[position]), self.lines.lines[position], reason)


@dataclass
class Batch:
    """What one batch of input became: rows per target table (and their lines), rejects, lines skipped on purpose."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    origins: dict[str, RowOrigins] = field(default_factory=dict)


def clean_text(text: str) -> str:
    text = text.replace("\x00", "\\x00")
    return text if len(text) <= MAX_REJECT_TEXT else text[:MAX_REJECT_TEXT] + "...[truncated]"


def iter_line_batches(stream: TextIO, batch_rows: int, *, first_number: int = 1) -> Iterator[LineBatch]:
    """Yield the stream's lines (newline stripped) ``batch_rows`` at a time."""
    lines: list[str] = []
    start = first_number
    for line in stream:
        lines.append(line.rstrip("\r\n"))
        if len(lines) >= batch_rows:
            yield LineBatch(np.arange(start, start + len(lines), dtype=np.int64), lines)
            start += len(lines)
            lines = []
    if lines:
        yield LineBatch(np.arange(start, start + len(lines), dtype=np.int64), lines)


def split_by_field_count(batch: LineBatch, expected: int) -> tuple[LineBatch, list[Reject]]:
    """Lines with exactly ``expected`` comma-separated fields, and rejects for the others."""
    counts = np.fromiter((line.count(",") + 1 for line in batch.lines), dtype=np.int64, count=len(batch.lines))
    good = counts == expected
    if good.all():
        return batch, []
    rejects = [
        Reject(int(batch.numbers[i]), batch.lines[i], f"expected {expected} columns, found {counts[i]}")
        if batch.lines[i].strip()
        else Reject(int(batch.numbers[i]), batch.lines[i], "empty line")
        for i in np.flatnonzero(~good)
    ]
    kept = [line for line, ok in zip(batch.lines, good) if ok]
    return LineBatch(batch.numbers[good], kept), rejects


def read_fields(batch: LineBatch, names: list[str]) -> pd.DataFrame:
    """Parse lines that all have ``len(names)`` fields; values are inferred, bad ones stay text."""
    if not batch.lines:
        return pd.DataFrame(columns=names)
    frame = pd.read_csv(
        io.StringIO("\n".join(batch.lines)),
        header=None,
        names=names,
        quoting=csv.QUOTE_NONE,
        skip_blank_lines=False,
        keep_default_na=False,
        na_values=[""],
        low_memory=False,
    )
    if len(frame) != len(batch.lines):  # cannot happen with QUOTE_NONE and counted fields
        raise RuntimeError(f"parsed {len(frame)} rows from {len(batch.lines)} lines")
    return frame


class Bound(Enum):
    """The range a numeric field must lie in, besides being a finite number."""

    ANY = "any"
    POSITIVE = "positive"  # > 0
    NON_NEGATIVE = "non-negative"  # >= 0

    def violated(self, values: np.ndarray) -> np.ndarray:
        """True where a value is out of range (NaN is never out of range: it is flagged as not a number)."""
        if self is Bound.POSITIVE:
            return values <= 0
        if self is Bound.NON_NEGATIVE:
            return values < 0
        return np.zeros(len(values), dtype=bool)

    @property
    def reason(self) -> str:
        return {"positive": "is not positive", "non-negative": "is negative", "any": "is out of range"}[self.value]


@dataclass(frozen=True)
class Numbers:
    """A column read as float64, and why each unusable entry is unusable.

    ``values`` is NaN wherever the field is not a finite number, so a caller that ignores
    the masks still cannot store inf or an overflow (1e400 reads as inf).
    """

    values: np.ndarray
    missing: np.ndarray  # empty field
    not_numeric: np.ndarray  # text that is not a number, NaN spelled out included
    not_finite: np.ndarray  # inf, -inf, or a number beyond float8 (1e400)


def as_number(series: pd.Series) -> Numbers:
    """Float view of a column: text that is not a number, NaN and +-inf are flagged and become NaN."""
    if pd.api.types.is_bool_dtype(series.dtype):
        flags = np.ones(len(series), dtype=bool)
        return Numbers(np.full(len(series), np.nan), ~flags, flags, ~flags)
    missing = series.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        not_numeric = np.zeros(len(series), dtype=bool)
    else:
        text = series.astype(str).str.strip()
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        not_numeric = np.isnan(values) & ~missing
    not_finite = np.isinf(values)
    return Numbers(np.where(not_finite, np.nan, values), missing, not_numeric, not_finite)


def as_integer(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Int64 values and a mask of entries that are not whole numbers (those values are 0)."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return pd.Series(0, index=series.index, dtype="int64"), np.ones(len(series), dtype=bool)
    if pd.api.types.is_integer_dtype(series.dtype):
        return series.astype("int64"), np.zeros(len(series), dtype=bool)
    if pd.api.types.is_float_dtype(series.dtype):  # a missing value turned the column to float
        values = series.to_numpy(dtype="float64")
        bad = np.isnan(values) | (values != np.floor(values)) | (np.abs(values) > 2.0**53)
        return pd.Series(np.where(bad, 0, values).astype("int64"), index=series.index), bad
    text = series.astype(str).str.strip()
    # Only digit strings: anything else (1e3, 12.5, abc) is not an id or a timestamp.
    good = text.str.fullmatch(r"-?\d{1,18}").to_numpy(dtype=bool, na_value=False)
    values = pd.to_numeric(text.where(good, "0")).astype("int64")
    return values, ~good


def as_bool(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Booleans from True/False/true/false, and a mask of entries that are neither."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(bool), np.zeros(len(series), dtype=bool)
    text = series.astype(str).str.strip().str.lower()
    is_true = (text == "true").to_numpy(dtype=bool)
    is_false = (text == "false").to_numpy(dtype=bool)
    return pd.Series(is_true, index=series.index), ~(is_true | is_false)


class ReasonBuilder:
    """The first failed rule of each row; rules are checked in the order they are added."""

    def __init__(self, n_rows: int) -> None:
        self.reasons = np.full(n_rows, None, dtype=object)

    def add(self, failed: np.ndarray | pd.Series, reason: str) -> None:
        failed = np.asarray(failed, dtype=bool)
        fresh = failed & (self.reasons == None)  # noqa: E711 (elementwise)
        self.reasons[fresh] = reason

    def number(self, series: pd.Series, name: str, bound: Bound = Bound.ANY, *, optional: bool = False) -> np.ndarray:
        """A numeric field's float64 values; rows where it is not a finite number in ``bound`` get a reason.

        ``optional``: an empty field is a legitimate NULL (NaN in the result), not a reject.
        """
        parsed = as_number(series)
        self.add(parsed.not_numeric | (parsed.missing & (not optional)), f"{name} is not a number")
        self.add(parsed.not_finite, f"{name} is not a finite number")
        if bound is not Bound.ANY:
            self.add(bound.violated(parsed.values), f"{name} {bound.reason}")
        return parsed.values

    @property
    def bad(self) -> np.ndarray:
        return self.reasons != None  # noqa: E711 (elementwise)

    def origins(self, batch: LineBatch) -> RowOrigins:
        """Where the rows that passed every rule came from."""
        return RowOrigins(batch, np.flatnonzero(~self.bad))

    def rejects(self, batch: LineBatch) -> list[Reject]:
        return [Reject(int(batch.numbers[i]), batch.lines[i], self.reasons[i]) for i in np.flatnonzero(self.bad)]


# The datetime text Binance writes in bookDepth and metrics files (UTC, no zone marker);
# fractional seconds are accepted should a file carry them.
DATETIME_TEXT = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?"


def as_utc_micros(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """µs since the epoch of 'YYYY-MM-DD HH:MM:SS' UTC text, and a mask of entries that are not such a time.

    Only that shape: a bare date, an epoch number or a time with a zone is not what the
    column holds, and is flagged (those values are 0).

    >>> micros, bad = as_utc_micros(pd.Series(["2024-03-30 00:00:30", "2024-03-30", "2024-02-30 00:00:00"]))
    >>> micros[0], bad.tolist()
    (np.int64(1711756830000000), [False, True, True])
    """
    text = series.astype(str).str.strip()
    shaped = text.str.fullmatch(DATETIME_TEXT).to_numpy(dtype=bool, na_value=False)
    parsed = pd.to_datetime(text.where(shaped), format="ISO8601", utc=True, errors="coerce")
    values = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    bad = np.isnat(values)
    return np.where(bad, 0, values.astype(np.int64)), bad


def _same(mine: tuple, other: tuple) -> bool:
    """Equal values, NaN (an empty optional field) equal to NaN."""
    return all(a == b or (a != a and b != b) for a, b in zip(mine, other))


class FirstVersions:
    """The first version of each key in one file; a later row repeating the key with other values is rejected.

    For archives whose rows carry no exchange id, only a time (and a band): an exact
    repeat is a duplicate (the table's primary key skips it and the load counts it), a
    repeat with any other value is a conflict, and the reason names both versions. The
    first version wins. Keys of rejected rows are not remembered. One instance per file:
    a key's rows can only be in the file of its day or month (times outside are rejected).
    """

    def __init__(self) -> None:
        self.seen: dict[tuple, tuple] = {}

    def check(
        self,
        reasons: ReasonBuilder,
        keys: list[np.ndarray],
        payload: dict[str, np.ndarray],
        describe_key: Callable[[int], str],
    ) -> None:
        """Give a reason to each row (not already rejected) whose key an earlier row holds with other values."""
        key_lists = [np.asarray(column).tolist() for column in keys]
        names = list(payload)
        value_lists = [np.asarray(payload[name]).tolist() for name in names]
        for i in np.flatnonzero(~reasons.bad).tolist():
            key = tuple(column[i] for column in key_lists)
            values = tuple(column[i] for column in value_lists)
            earlier = self.seen.setdefault(key, values)
            if earlier is values or _same(values, earlier):
                continue
            differences = ", ".join(
                f"{name} {mine!r} (earlier {theirs!r})"
                for name, mine, theirs in zip(names, values, earlier)
                if not _same((mine,), (theirs,))
            )
            reasons.reasons[i] = f"{describe_key(i)} repeats an earlier row with other values: {differences}"
