"""`sniper record`: the connection loop, the batch writer and the status line, run together.

One asyncio loop receives; once per ``flush_seconds`` everything received is handed to the
writer in a worker thread (psycopg is synchronous), so receiving goes on while a batch
commits. SIGTERM and SIGINT close the connection, the last batch is written and the spans
are closed with the signal's name as their end.
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass

import psycopg

from sniper.live.buffer import MessageBuffer
from sniper.live.config import EXCHANGE, RecorderConfig
from sniper.live.connection import ConnectionLoop, StopRequest
from sniper.instruments import Instrument
from sniper.live.spans import lock_instruments
from sniper.live.status import Snapshot, on_a_terminal, print_status, status_line, utc_now
from sniper.live.writer import BatchWriter, WriterTotals

SIGNAL_REASONS = {signal.SIGTERM: "sigterm", signal.SIGINT: "sigint"}


@dataclass(frozen=True)
class RecordingSummary:
    connections: int
    messages: int
    rows: int
    rejected: int
    stop_reason: str | None


class WriterFailed(Exception):
    """A batch could not be committed; ``waiting`` received messages were not written."""

    def __init__(self, error: BaseException, waiting: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.waiting = waiting


class _Recording:
    def __init__(self, conn: psycopg.Connection, config: RecorderConfig, show_status: bool) -> None:
        self.config = config
        self.stop = StopRequest()
        self.buffer = MessageBuffer(config.buffer)
        self.writer = BatchWriter(conn, config)
        self.connection = ConnectionLoop(config, self.buffer, self.stop)
        self.show_status = show_status
        self.receiving_done = asyncio.Event()

    async def run(self) -> RecordingSummary:
        loop = asyncio.get_running_loop()
        for signum, reason in SIGNAL_REASONS.items():
            loop.add_signal_handler(signum, self.stop.request, reason)
        flusher = asyncio.create_task(self._flush_loop())
        flusher.add_done_callback(self._writer_stopped)
        reporter = asyncio.create_task(self._status_loop()) if self.show_status else None
        try:
            await self.connection.run()
        finally:
            self.receiving_done.set()
            if reporter is not None:
                reporter.cancel()
            await asyncio.wait({flusher})
            for signum in SIGNAL_REASONS:
                loop.remove_signal_handler(signum)
        flusher.result()  # a write that failed raises here
        totals = self.writer.totals
        return RecordingSummary(
            self.connection.connections, totals.messages, totals.rows, totals.rejected, self.stop.reason
        )

    def _writer_stopped(self, flusher: asyncio.Task) -> None:
        if not flusher.cancelled() and flusher.exception() is not None:
            self.stop.request("database error")

    async def _flush_loop(self) -> None:
        """Hand what was received to the writer at least every flush_seconds; drain it all at the end."""
        next_flush = time.monotonic()
        while True:
            next_flush += self.config.flush_seconds
            try:
                await asyncio.wait_for(self.receiving_done.wait(), timeout=max(0.0, next_flush - time.monotonic()))
            except TimeoutError:
                pass
            events = self.buffer.take()
            if events:
                try:
                    await asyncio.to_thread(self.writer.write, events)
                except Exception as error:
                    raise WriterFailed(error, self.buffer.messages) from error
                self.buffer.release(events)
            if self.receiving_done.is_set() and not self.buffer.waiting:
                return
            next_flush = max(next_flush, time.monotonic() - self.config.flush_seconds)

    async def _status_loop(self) -> None:
        previous = self._snapshot(self.writer.totals)
        while True:
            await asyncio.sleep(self.config.status_seconds)
            current = self._snapshot(self.writer.totals)
            print_status(status_line(previous, current, utc_now()))
            previous = current

    def _snapshot(self, totals: WriterTotals) -> Snapshot:
        return Snapshot(
            time.monotonic(), self.connection.received, totals.rows, totals.rejected,
            self.buffer.messages, self.connection.connections, totals.newest_event,
        )


def record(conn: psycopg.Connection, config: RecorderConfig) -> RecordingSummary:
    """Record until stopped. Holds the instruments' locks on ``conn`` (autocommit) while it runs."""
    lock_instruments(conn, [Instrument(EXCHANGE, config.market, symbol) for symbol in config.symbols])
    recording = _Recording(conn, config, show_status=on_a_terminal())
    return asyncio.run(recording.run())
