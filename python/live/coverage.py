"""The exchange time a span covers, from the times of the rows each of its streams delivered.

Each stream (a symbol's trades, its bookTickers) arrives in time order, but the streams
are not in step: one runs a little behind the other. From its first message on, a stream
misses nothing; so every stream is complete from the *latest* of their first times (a
trade stamped after the first bookTicker may have gone by before the trade stream was
subscribed) to the *oldest* of their newest times (a trade stamped before the newest
bookTicker may still be on its way). Only exchange-stamped rows count: a spot bookTicker
is stamped with the local receive time (Binance gives it none), another clock.

The interval is half-open, like a bucket: complete from its start up to, not including,
its end. Rows stamped at the end itself may still be on their way (several trades share a
millisecond, and a batch, or a kill -9, can fall between them). A bucket is complete when
the interval reaches the bucket's end, so the rows at that instant belong to the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sniper.live.config import Market

TRADES, QUOTES = "raw.trades", "raw.l1_quotes"
EXCHANGE_STAMPED: dict[Market, tuple[str, ...]] = {"spot": (TRADES,), "um": (TRADES, QUOTES)}


@dataclass
class Coverage:
    """First and newest exchange time seen per table, and the interval they make.

    >>> from datetime import datetime as t
    >>> span = Coverage("um")
    >>> span.interval
    (None, None)
    >>> span.observe(QUOTES, t(2024, 1, 1, 0, 0, 1), t(2024, 1, 1, 0, 0, 9))
    >>> span.interval  # no trade yet: the quotes alone
    (datetime.datetime(2024, 1, 1, 0, 0, 1), datetime.datetime(2024, 1, 1, 0, 0, 9))
    >>> span.observe(TRADES, t(2024, 1, 1, 0, 0, 2), t(2024, 1, 1, 0, 0, 7))
    >>> span.interval  # trades from 0:02 up to 0:07 are all here; others may be before or after
    (datetime.datetime(2024, 1, 1, 0, 0, 2), datetime.datetime(2024, 1, 1, 0, 0, 7))
    >>> late = Coverage("um")
    >>> late.observe(QUOTES, t(2024, 1, 1, 0, 0, 1), t(2024, 1, 1, 0, 0, 2))
    >>> late.observe(TRADES, t(2024, 1, 1, 0, 0, 5), t(2024, 1, 1, 0, 0, 6))
    >>> late.interval  # no moment yet at which both streams are known complete
    (None, None)
    >>> Coverage("spot").observe(QUOTES, t(2024, 1, 1), t(2024, 1, 2))  # receive times: ignored
    """

    market: Market
    first: dict[str, datetime] = field(default_factory=dict)
    newest: dict[str, datetime] = field(default_factory=dict)

    def observe(self, table: str, first: datetime, last: datetime) -> None:
        """A committed batch held rows of ``table`` stamped ``first`` .. ``last``."""
        if table not in EXCHANGE_STAMPED[self.market]:
            return
        self.first[table] = min(first, self.first.get(table, first))
        self.newest[table] = max(last, self.newest.get(table, last))

    @property
    def interval(self) -> tuple[datetime | None, datetime | None]:
        if not self.first:
            return None, None
        start, end = max(self.first.values()), min(self.newest.values())
        return (start, end) if start <= end else (None, None)
