"""The connection loop: connect, receive into the buffer, and reconnect with backoff when a connection ends.

A connection ends when the server closes it or it drops, on an error frame, on a stall
(no message for ``stall_seconds``), when the buffer is full (the database is too slow),
or when the recorder is asked to stop. Each end is a ``Disconnected`` event with that
reason, so the spans record it; the next connection subscribes again through the URL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from datetime import datetime, timezone

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake, InvalidURI

from sniper.errors import UserError
from sniper.ingest.recording import STREAM_PREFIX
from sniper.live.buffer import Connected, Disconnected, MessageBuffer, Received
from sniper.live.config import EXCHANGE, RecorderConfig

DATABASE_TOO_SLOW = "database too slow"
# A close handshake on stop may not wait longer than this for the server.
CLOSE_TIMEOUT_SECONDS = 2.0
# The library logs connection trouble; the recorder records it in the spans instead.
_quiet_log = logging.getLogger("sniper.live.websocket")
_quiet_log.addHandler(logging.NullHandler())
_quiet_log.propagate = False

CONNECT_ERRORS = (OSError, TimeoutError, InvalidHandshake, InvalidURI)


class CannotConnect(UserError):
    """The first connection could not be made within the allowed attempts."""


class StopRequest:
    """Why the recorder is stopping (a signal's name), and a way to wait for it."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.reason: str | None = None
        self._websocket: ClientConnection | None = None

    def request(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.event.set()
        if self._websocket is not None:
            asyncio.ensure_future(self._websocket.close())

    def watch(self, websocket: ClientConnection) -> None:
        """Close this connection when a stop is requested (at once if it already was)."""
        self._websocket = websocket
        if self.requested:
            asyncio.ensure_future(websocket.close())

    def unwatch(self) -> None:
        self._websocket = None

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    async def sleep(self, seconds: float) -> None:
        """Sleep, or return early when stopped."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout=seconds)
        except TimeoutError:
            pass


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _error_frame(text: str) -> str | None:
    """Binance's error message (``{"error": {"code": .., "msg": ..}}``), if the message is one."""
    if text.startswith(STREAM_PREFIX):
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or "error" not in message:
        return None
    error = message["error"]
    return str(error.get("msg", error)) if isinstance(error, dict) else str(error)


class ConnectionLoop:
    """Connects to the combined stream again and again until stopped; every message goes to the buffer."""

    def __init__(
        self, config: RecorderConfig, buffer: MessageBuffer, stop: StopRequest, rng: random.Random | None = None
    ) -> None:
        self.config = config
        self.buffer = buffer
        self.stop = stop
        self.rng = rng or random.Random()
        self.connections = 0
        self.received = 0

    async def run(self) -> None:
        failures = 0
        while not self.stop.requested:
            try:
                websocket = await self._connect()
            except CONNECT_ERRORS as error:
                failures += 1
                if self.connections == 0 and failures >= self.config.connect_attempts:
                    raise CannotConnect(
                        f"cannot connect to {self.config.endpoint} after {failures} attempts: {_describe(error)}"
                    ) from None
                await self.stop.sleep(self.config.backoff.delay(failures, self.rng))
                continue
            if self.stop.requested:  # stopped while the handshake was under way: no span
                await websocket.close()
                break
            self.connections += 1
            opened = time.monotonic()
            reason = await self._receive(websocket)
            self.buffer.append(Disconnected(reason, _utc_now()))
            if self.stop.requested:
                break
            if time.monotonic() - opened >= self.config.backoff.reset_after_seconds:
                failures = 0
            failures += 1
            if reason == DATABASE_TOO_SLOW:
                await self._wait_for_writer()
            await self.stop.sleep(self.config.backoff.delay(failures, self.rng))

    async def _connect(self) -> ClientConnection:
        return await connect(
            self.config.stream_url,
            open_timeout=self.config.open_timeout_seconds,
            close_timeout=CLOSE_TIMEOUT_SECONDS,
            logger=_quiet_log,
        )

    async def _receive(self, websocket: ClientConnection) -> str:
        """Receive until the connection ends; returns why it ended."""
        at = _utc_now()
        connection = f"{EXCHANGE}/{self.config.market}/{at:%Y-%m-%dT%H:%M:%S.%fZ}"
        self.buffer.append(Connected(connection, self.config.endpoint, at))
        self.stop.watch(websocket)
        loop = asyncio.get_running_loop()
        sequence = 0
        reason: str | None = None
        try:
            async with asyncio.timeout(self.config.stall_seconds) as deadline:
                async for message in websocket:
                    receive_ns = time.time_ns()
                    deadline.reschedule(loop.time() + self.config.stall_seconds)
                    text = message if isinstance(message, str) else message.decode("utf-8", errors="replace")
                    error = _error_frame(text)
                    if error is not None:
                        reason = f"error: {error}"
                        break
                    sequence += 1
                    self.received += 1
                    self.buffer.append(Received(sequence, receive_ns, text))
                    if self.buffer.full:
                        reason = DATABASE_TOO_SLOW
                        break
                    if self.stop.requested:
                        break
            if reason is None:
                reason = self._closed_reason(websocket)
        except TimeoutError:
            reason = f"stall: no message for {self.config.stall_seconds:g} s"
        except ConnectionClosed as closed:
            reason = self._closed_reason(websocket, closed)
        except OSError as error:
            reason = f"error: {_describe(error)}"
        finally:
            self.stop.unwatch()
            await websocket.close()
        return self.stop.reason if self.stop.requested else reason

    def _closed_reason(self, websocket: ClientConnection, closed: ConnectionClosed | None = None) -> str:
        if closed is None or isinstance(closed, ConnectionClosedOK):
            frame = websocket.close_code
            return "server closed" if frame in (None, 1000, 1001) else f"server closed (code {frame})"
        return f"connection lost ({_describe(closed)})"

    async def _wait_for_writer(self) -> None:
        """After 'database too slow': reconnect only once what was received is written."""
        while not self.buffer.settled and not self.stop.requested:
            await asyncio.sleep(0.05)


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text and text[0] else type(error).__name__
