"""One status line per interval while recording: messages/s, lag behind the exchange, rows written."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TextIO


@dataclass(frozen=True)
class Snapshot:
    """What the recorder has done so far, at one moment."""

    at_monotonic: float
    received: int
    rows: int
    rejected: int
    waiting: int  # messages received and not committed yet
    connections: int
    newest_event: datetime | None


def status_line(previous: Snapshot, current: Snapshot, now: datetime) -> str:
    """E.g. ``1,512 msg/s, lag 0.31 s, 1,204,118 rows written, 0 rejected, 37 waiting, connection 1``.

    >>> start = Snapshot(0.0, 0, 0, 0, 0, 1, None)
    >>> later = Snapshot(10.0, 15_000, 14_990, 0, 12, 1, datetime(2024, 1, 1, 0, 0, 9, tzinfo=timezone.utc))
    >>> status_line(start, later, datetime(2024, 1, 1, 0, 0, 10, tzinfo=timezone.utc))
    '1,500 msg/s, lag 1.00 s, 14,990 rows written, 0 rejected, 12 waiting, connection 1'
    """
    seconds = max(current.at_monotonic - previous.at_monotonic, 1e-9)
    rate = (current.received - previous.received) / seconds
    lag = "-" if current.newest_event is None else f"{(now - current.newest_event).total_seconds():.2f} s"
    return (
        f"{rate:,.0f} msg/s, lag {lag}, {current.rows:,} rows written, {current.rejected:,} rejected, "
        f"{current.waiting:,} waiting, connection {current.connections}"
    )


def on_a_terminal() -> bool:
    return sys.stdout.isatty() or sys.stderr.isatty()


def print_status(line: str, stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    stream.write(f"sniper record: {line}\n")
    stream.flush()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
