"""What the connection hands the writer, in order, and the bound on how much of it may wait.

The connection loop appends: a ``Connected`` when a connection is up, every ``Received``
message, a ``Disconnected`` when it ends. The writer takes everything waiting once per
flush and releases it once committed, so the bound counts messages in flight to the
database too: memory holds at most ``max_messages`` messages (``max_bytes`` of text),
whatever the database does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from sniper.live.config import BufferBound


@dataclass(frozen=True, slots=True)
class Connected:
    """A connection is up: the spans of its symbols open at ``at`` (wall clock)."""

    connection: str  # names the connection: exchange/market/connected-at, unique per instrument and time
    url: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Received:
    """One websocket message and its local receive time."""

    sequence: int  # 1-based number of the message within its connection
    receive_ns: int
    text: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection ended at ``at`` (wall clock) for ``reason``; its spans close."""

    reason: str
    at: datetime


Event = Connected | Received | Disconnected


class MessageBuffer:
    """A FIFO of events with a bound on the messages (and their bytes) not yet committed."""

    def __init__(self, bound: BufferBound) -> None:
        self.bound = bound
        self._events: deque[Event] = deque()
        self.messages = 0  # waiting or being written
        self.bytes = 0

    def append(self, event: Event) -> None:
        self._events.append(event)
        if isinstance(event, Received):
            self.messages += 1
            self.bytes += len(event.text)

    @property
    def full(self) -> bool:
        return self.messages >= self.bound.max_messages or self.bytes >= self.bound.max_bytes

    @property
    def waiting(self) -> int:
        """Events not yet taken by the writer."""
        return len(self._events)

    @property
    def settled(self) -> bool:
        """Everything appended has been written."""
        return not self._events and self.messages == 0

    def take(self) -> list[Event]:
        """Everything waiting, in order; it still counts against the bound until released."""
        events = list(self._events)
        self._events.clear()
        return events

    def release(self, events: list[Event]) -> None:
        """Events taken earlier are committed: they no longer count."""
        for event in events:
            if isinstance(event, Received):
                self.messages -= 1
                self.bytes -= len(event.text)
