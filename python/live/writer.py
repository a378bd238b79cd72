"""Received messages into raw.trades and raw.l1_quotes, each batch with its spans in ONE transaction.

Messages are parsed exactly as `sniper ingest recording` parses a capture: each becomes
the line a capture would hold (``<receive ns> <json>``) and goes through the same
``RecordingParser``; rows go through the same COPY path (``copy_rows``: duplicates skipped,
a row conflicting with a stored id refused). A message that yields no row is a reject in
raw.load_rejects (source_kind 'live', the connection as source, its sequence number as line
number), never dropped silently; so is a message of a stream that was not subscribed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import psycopg

from sniper.db.copy import copy_rows
from sniper.ingest.lines import Batch, LineBatch, Reject, clean_text
from sniper.ingest.recording import RecordingParser, capture_line, stream_name
from sniper.ingest.writer import WeekPartitions
from sniper.live.buffer import Connected, Disconnected, Event, Received
from sniper.live.config import EXCHANGE, RecorderConfig
from sniper.live.coverage import QUOTES, TRADES, Coverage
from sniper.instruments import Instrument
from sniper.live.spans import (
    SOURCE_KIND,
    SpanProgress,
    close_dangling,
    open_span,
    record_progress,
)


@dataclass
class WriterTotals:
    """What this process wrote, for the status line."""

    messages: int = 0
    rows: int = 0
    rejected: int = 0
    newest_event: datetime | None = None


@dataclass
class _OpenSpan:
    progress: SpanProgress
    coverage: Coverage


class BatchWriter:
    """Owns the database side of a recording: spans open and close, batches commit."""

    def __init__(self, conn: psycopg.Connection, config: RecorderConfig) -> None:
        if not conn.autocommit:
            raise ValueError("BatchWriter needs an autocommit connection: it commits each batch itself")
        self.conn = conn
        self.config = config
        self.instruments = [Instrument(EXCHANGE, config.market, symbol) for symbol in config.symbols]
        self.parser = RecordingParser(config.market, None)
        self.partitions = WeekPartitions(conn, None)
        self.subscribed = set(config.streams)
        self.totals = WriterTotals()
        self.connection: str | None = None
        self.spans: dict[str, _OpenSpan] = {}

    def write(self, events: list[Event]) -> None:
        """Commit events in order: a connection's spans open in one transaction; its messages
        commit with their spans' progress, the last ones together with the spans' end."""
        pending: list[Received] = []
        for event in events:
            if isinstance(event, Received):
                pending.append(event)
            elif isinstance(event, Connected):
                self._commit(pending)
                pending = []
                self._open(event)
            else:
                self._commit(pending, ending=event)
                pending = []
        self._commit(pending)

    def _open(self, event: Connected) -> None:
        with self.conn.transaction():
            close_dangling(self.conn, self.instruments)
            self.spans = {
                instrument.symbol: _OpenSpan(
                    open_span(
                        self.conn, instrument, connection=event.connection, url=event.url,
                        connected_at=event.at, pid=os.getpid(),
                    ),
                    Coverage(self.config.market),
                )
                for instrument in self.instruments
            }
        self.connection = event.connection

    def _commit(self, messages: list[Received], *, ending: Disconnected | None = None) -> None:
        if not messages and ending is None:
            return
        if not self.spans:
            raise RuntimeError("messages or a disconnection without an open connection")
        batch, rejects = self._parse(messages)
        with self.conn.transaction():
            for table, frame in batch.tables.items():
                rejects += self._copy(table, frame, batch)
            if rejects:
                self._write_rejects(rejects)
            self._attribute(messages, rejects, batch.skipped)
            for span in self.spans.values():
                span.progress.first_ts, span.progress.last_ts = span.coverage.interval
                record_progress(
                    self.conn, span.progress,
                    end_reason=ending.reason if ending else None, ended_at=ending.at if ending else None,
                )
        self.totals.messages += len(messages)
        self.totals.rejected += len(rejects)
        if ending is not None:
            self.spans = {}
            self.connection = None

    def _parse(self, messages: list[Received]) -> tuple[Batch, list[Reject]]:
        """The parser's rows of the subscribed streams; a message of any other stream is a reject."""
        numbers, lines, rejects = [], [], []
        for message in messages:
            line = capture_line(message.receive_ns, message.text)
            stream = stream_name(message.text)
            if stream is not None and stream not in self.subscribed:
                rejects.append(Reject(message.sequence, line, f"stream {stream} was not subscribed"))
                continue
            numbers.append(message.sequence)
            lines.append(line)
        batch = self.parser.parse(LineBatch(np.asarray(numbers, dtype=np.int64), lines))
        return batch, rejects + batch.rejects

    def _attribute(self, messages: list[Received], rejects: list[Reject], skipped: dict[str, int]) -> None:
        """Each span counts its symbol's messages and rejects, by the stream the message names;
        what names no recorded symbol (not a stream message, another symbol's stream) counts on
        the span of the first symbol, so that every message is counted once."""
        first = next(iter(self.spans.values())).progress
        by_stream_symbol = {symbol.lower(): span.progress for symbol, span in self.spans.items()}
        for message in messages:
            stream = stream_name(message.text)
            owner = by_stream_symbol.get(stream.partition("@")[0], first) if stream else first
            owner.messages += 1
        for reject in rejects:
            _, _, payload = reject.raw_text.partition(" ")
            stream = stream_name(payload)
            owner = by_stream_symbol.get(stream.partition("@")[0], first) if stream else first
            owner.rejected += 1
        for kind, count in skipped.items():
            first.skipped[kind] = first.skipped.get(kind, 0) + count

    def _copy(self, table: str, frame: pd.DataFrame, batch: Batch) -> list[Reject]:
        """COPY one table's rows, per symbol (each span counts its own); returns the rows refused."""
        if frame.empty:
            return []
        rejects = []
        symbols = frame["symbol"].to_numpy()
        unknown = ~np.isin(symbols, list(self.spans))
        for row in np.flatnonzero(unknown):
            rejects.append(batch.origins[table].reject(int(row), f"symbol {symbols[row]} is not being recorded"))
        self.partitions.cover(table, frame["ts"])
        for symbol, span in self.spans.items():
            rows = np.flatnonzero(symbols == symbol)
            if not len(rows):
                continue
            part = frame.iloc[rows].reset_index(drop=True)
            copied = copy_rows(self.conn, table, part)
            rejects += [batch.origins[table].reject(int(rows[c.row]), c.reason) for c in copied.conflicts]
            times = part["ts"]
            first, last = _utc(times.min()), _utc(times.max())
            span.coverage.observe(table, first, last)
            if table == TRADES:
                span.progress.trades += copied.inserted
            elif table == QUOTES:
                span.progress.quotes += copied.inserted
            span.progress.duplicates += copied.duplicates
            self.totals.rows += copied.inserted
            if table == TRADES or self.config.market == "um":
                self.totals.newest_event = max(last, self.totals.newest_event or last)
        return rejects

    def _write_rejects(self, rejects: list[Reject]) -> None:
        statement = "copy raw.load_rejects (source_kind, source, line_number, raw_text, reason) from stdin"
        with self.conn.cursor().copy(statement) as copy:
            for reject in rejects:
                copy.write_row((SOURCE_KIND, self.connection, reject.line_number, clean_text(reject.raw_text),
                                reject.reason))


def _utc(value) -> datetime:
    return pd.Timestamp(value).tz_localize(timezone.utc).to_pydatetime()

