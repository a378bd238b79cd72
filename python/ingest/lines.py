"""Text files read in bounded batches of raw lines, with the pieces every parser shares.

A parser keeps each line's number and raw text until the line is either turned into a
row or rejected, so a reject always carries exactly what the file said.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
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


@dataclass
class Batch:
    """What one batch of input became: rows per target table, rejects, lines skipped on purpose."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


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


def as_number(series: pd.Series) -> pd.Series:
    """Float view of a column; text that is not a number becomes NaN."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return pd.Series(np.nan, index=series.index)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.astype("float64")
    return pd.to_numeric(series.astype(str).str.strip(), errors="coerce").astype("float64")


def as_optional_number(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Float values where an empty field is a legitimate NULL; the mask marks text that is not a number."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("float64"), np.zeros(len(series), dtype=bool)
    missing = series.isna().to_numpy()
    numbers = as_number(series)
    return numbers, numbers.isna().to_numpy() & ~missing


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

    @property
    def bad(self) -> np.ndarray:
        return self.reasons != None  # noqa: E711 (elementwise)

    def rejects(self, batch: LineBatch) -> list[Reject]:
        return [Reject(int(batch.numbers[i]), batch.lines[i], self.reasons[i]) for i in np.flatnonzero(self.bad)]
