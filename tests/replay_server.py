"""A stand-in for Binance's combined-stream endpoint: real captures replayed over a real websocket.

The machine has no internet, so the exchange is played by a `websockets` server on
127.0.0.1 that serves `/stream?streams=a/b/...` like Binance: each connection gets the
messages of the streams it subscribed to, from the moment it connects (what was sent
while it was away is gone, as on the real endpoint). The messages are the captures' own
(tests/data/realdata/binance-websocket/), in their receive order and with their timing
compressed by ``speed``.

Times: the recorder checks each message's exchange time against its own clock (a
garbled timestamp is more than an hour off), so the captures' 2024 times are moved to
now: ``clock="shift"`` adds one constant, a whole number of 5-minute buckets (bucket
boundaries stay where they were: a row's original time is its stored time minus
``shift_ms``); ``clock="send"`` stamps each message with the time it is sent (benchmarks:
the recorder's lag is then its own delay). ``loops`` replays the captures again and again,
each pass with its trade and update ids moved past the previous pass's, so that every
message stays a distinct trade or quote.
"""

from __future__ import annotations

import asyncio
import gzip
import heapq
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

BUCKET_MS = 300_000
STREAM_PREFIX = '{"stream":"'
RECORDED_CHANNELS = ("@trade", "@bookTicker")


@dataclass(frozen=True)
class CaptureMessage:
    receive_ns: int
    stream: str
    text: str


def _stream_of(text: str) -> str | None:
    if not text.startswith(STREAM_PREFIX):
        return None
    end = text.find('"', len(STREAM_PREFIX))
    return text[len(STREAM_PREFIX) : end]


def _read_capture(path: Path) -> Iterator[CaptureMessage]:
    with gzip.open(path, "rt") as lines:
        for line in lines:
            receive, _, text = line.rstrip("\n").partition(" ")
            stream = _stream_of(text)
            if stream is not None and stream.endswith(RECORDED_CHANNELS):
                yield CaptureMessage(int(receive), stream, text)


def read_captures(paths: list[Path]) -> list[CaptureMessage]:
    """The trade and bookTicker messages of the captures, merged in receive order."""
    return list(heapq.merge(*(_read_capture(path) for path in paths), key=lambda m: m.receive_ns))


def shift_for_now(messages: list[CaptureMessage]) -> int:
    """Milliseconds, a whole number of 5-minute buckets, that bring the first message to within 5 minutes before now."""
    return (time.time_ns() // 1_000_000 - messages[0].receive_ns // 1_000_000) // BUCKET_MS * BUCKET_MS


@dataclass
class _Pass:
    """How one pass over the captures changes the messages."""

    time_shift_ms: int
    id_shift: int
    send_clock: bool


def _restamped(message: CaptureMessage, change: _Pass, send_ms: int) -> str:
    if change.time_shift_ms == 0 and change.id_shift == 0 and not change.send_clock:
        return message.text
    document = json.loads(message.text)
    data = document["data"]
    for key in ("T", "E"):
        if key in data:
            data[key] = send_ms if change.send_clock else data[key] + change.time_shift_ms
    for key in ("t", "u"):
        if key in data:
            data[key] += change.id_shift
    return json.dumps(document, separators=(",", ":"))


@dataclass(frozen=True)
class Incident:
    """Something the server does when its timeline reaches ``at_ms`` (capture ms from the first message).

    ``drop``: closes every connection (code 1001, "going away", as Binance ends its 24-hour
    connections); ``error``: sends every connection Binance's error message; ``stall``:
    sends nothing for ``seconds`` of wall time, connections open, then resumes the timeline.
    """

    at_ms: int
    kind: Literal["drop", "error", "stall"]
    seconds: float = 0.0


ERROR_FRAME = '{"error":{"code":2,"msg":"Invalid request: stream not available"},"id":null}'


@dataclass
class _Client:
    websocket: ServerConnection
    streams: frozenset[str]


@dataclass
class ReplayStats:
    sent: int = 0  # messages sent to at least one client
    position: int = 0  # messages of the timeline passed, sent or not
    finished: bool = False
    connections: int = 0


class ReplayServer:
    """Serves the captures on ws://127.0.0.1:<port>/stream from a background thread.

    The timeline starts with the first connection and runs on whether or not anyone is
    connected. ``incidents`` happen on the way (see Incident). With ``clock="shift"``
    every pass's messages are restamped before the server starts, so the timeline is not
    held up by JSON work (``clock="send"`` restamps each message as it goes).
    """

    def __init__(
        self,
        messages: list[CaptureMessage],
        *,
        speed: float,
        clock: Literal["shift", "send"] = "shift",
        loops: int = 1,
        incidents: tuple[Incident, ...] = (),
    ) -> None:
        self.messages = messages
        self.speed = speed
        self.clock = clock
        self.loops = loops
        self.incidents = sorted(incidents, key=lambda incident: incident.at_ms)
        self.shift_ms = shift_for_now(messages) if clock == "shift" else 0
        self.stats = ReplayStats()
        self._prepared: list[list[str]] | None = None  # per pass, with clock="shift"
        self._clients: list[_Client] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._first_client: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="replay-server", daemon=True)
        self.port = 0

    # --- the test's side ---------------------------------------------------------------
    def start(self) -> ReplayServer:
        if self.clock == "shift":
            self._prepared = [
                [_restamped(message, change, 0) for message in self.messages] for change in self._passes()
            ]
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the replay server did not start")
        return self

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/stream"

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)

    def wait(self, condition, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self.stats):
            if time.monotonic() > deadline:
                raise TimeoutError(f"replay did not reach the expected state in {timeout} s: {self.stats}")
            time.sleep(0.02)

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the server's side -------------------------------------------------------------
    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._first_client = asyncio.Event()
        async with serve(self._serve, "127.0.0.1", 0, process_request=self._check_path, max_queue=None) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._started.set()
            replay = asyncio.create_task(self._replay())
            await self._stopping.wait()
            replay.cancel()
            for client in list(self._clients):
                await client.websocket.close()

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path != "/stream":
            return Response(404, "Not Found", Headers(), b"no such endpoint\n")
        return None

    async def _serve(self, websocket: ServerConnection) -> None:
        query = parse_qs(urlsplit(websocket.request.path).query)
        streams = frozenset(query.get("streams", [""])[0].split("/")) - {""}
        client = _Client(websocket, streams)
        self._clients.append(client)
        self.stats.connections += 1
        self._first_client.set()
        try:
            await websocket.wait_closed()
        finally:
            self._clients.remove(client)

    def _passes(self) -> Iterator[_Pass]:
        duration_ms = (self.messages[-1].receive_ns - self.messages[0].receive_ns) // 1_000_000 + 1
        id_span = self._id_span()
        for number in range(self.loops):
            yield _Pass(self.shift_ms + number * duration_ms, number * id_span, self.clock == "send")

    def _id_span(self) -> int:
        """A power of ten above every trade and update id of the captures: pass n adds n times it."""
        if self.loops == 1:
            return 0
        datas = (json.loads(message.text)["data"] for message in self.messages)
        largest = max(max(data.get("t", 0), data.get("u", 0)) for data in datas)
        return 10 ** len(str(largest))

    async def _replay(self) -> None:
        await self._first_client.wait()
        started = time.monotonic()
        origin = self.messages[0].receive_ns
        duration_ns = self.messages[-1].receive_ns - origin + 1_000_000
        incidents = list(self.incidents)
        for number, change in enumerate(self._passes()):
            for index, message in enumerate(self.messages):
                offset_ns = number * duration_ns + message.receive_ns - origin
                while incidents and incidents[0].at_ms * 1_000_000 <= offset_ns:
                    started += await self._happen(incidents.pop(0))
                delay = started + offset_ns / 1e9 / self.speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                self.stats.position += 1
                receivers = [c for c in self._clients if message.stream in c.streams]
                if not receivers:
                    continue
                text = (
                    self._prepared[number][index] if self._prepared is not None
                    else _restamped(message, change, time.time_ns() // 1_000_000)
                )
                await self._send(receivers, text)
                self.stats.sent += 1
        self.stats.finished = True

    async def _send(self, clients: list[_Client], text: str) -> None:
        for client in clients:
            try:
                await client.websocket.send(text)
            except ConnectionClosed:
                pass

    async def _happen(self, incident: Incident) -> float:
        """Carry out an incident; returns the wall seconds it held the timeline up."""
        if incident.kind == "drop":
            for client in list(self._clients):
                await client.websocket.close(1001, "going away")
        elif incident.kind == "error":
            await self._send(list(self._clients), ERROR_FRAME)
        else:
            await asyncio.sleep(incident.seconds)
            return incident.seconds
        return 0.0
