"""The recorder's typed configuration: which streams, where from, and its timing and memory bounds."""

from __future__ import annotations

import random
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sniper.validation import SYMBOL_PATTERN

Market = Literal["spot", "um"]
EXCHANGE = "binance"
# The exchange's combined-stream endpoints; `?streams=a/b/...` is appended.
DEFAULT_URLS: dict[Market, str] = {
    "spot": "wss://stream.binance.com:9443/stream",
    "um": "wss://fstream.binance.com/stream",
}
# The channels recorded for every symbol: trades to raw.trades, best bid/ask to raw.l1_quotes.
CHANNELS = ("trade", "bookTicker")
# Binance allows up to 1024 streams on one connection.
MAX_SYMBOLS = 512


class BackoffPolicy(BaseModel):
    """Capped exponential backoff with jitter between connection attempts.

    The n-th consecutive failure (0-based) waits ``min(cap, base * 2**n)`` scaled by a
    random factor in ``[1 - jitter, 1]``, so many recorders cut off at once do not
    reconnect in lockstep. A connection that stayed up ``reset_after_seconds`` resets n.
    """

    model_config = ConfigDict(frozen=True)

    base_seconds: float = Field(default=0.5, gt=0, le=60)
    cap_seconds: float = Field(default=30.0, gt=0, le=3600)
    jitter: float = Field(default=0.5, ge=0, le=1)
    reset_after_seconds: float = Field(default=60.0, ge=0)

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after ``failures`` consecutive failures (1 = the first).

        >>> policy = BackoffPolicy(base_seconds=0.5, cap_seconds=4, jitter=0)
        >>> [policy.delay(n, random.Random(0)) for n in (1, 2, 3, 4, 5, 9)]
        [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
        >>> 0.25 <= BackoffPolicy(base_seconds=0.5, jitter=0.5).delay(1, random.Random(1)) <= 0.5
        True
        """
        if failures < 1:
            return 0.0
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** min(failures - 1, 30))
        return ceiling * (1 - self.jitter * rng.random())


class BufferBound(BaseModel):
    """How much received but not yet committed data the recorder may hold.

    Reached when the database is slower than the stream (or stuck): the recorder then
    stops reading, closes the connection (the span ends 'database too slow'), writes
    what it holds, and reconnects; the time in between is a recorded gap.
    """

    model_config = ConfigDict(frozen=True)

    max_messages: int = Field(default=50_000, ge=100)
    max_bytes: int = Field(default=32 * 1024 * 1024, ge=64 * 1024)


class RecorderConfig(BaseModel):
    """One `sniper record` run."""

    model_config = ConfigDict(frozen=True)

    market: Market
    symbols: tuple[str, ...] = Field(min_length=1, max_length=MAX_SYMBOLS)
    url: str | None = None  # the combined-stream endpoint; default DEFAULT_URLS[market]
    flush_seconds: float = Field(default=1.0, gt=0, le=1.0)  # a batch commits at least this often
    stall_seconds: float = Field(default=30.0, gt=0, le=3600)  # no message for this long: reconnect
    open_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    connect_attempts: int = Field(default=5, ge=1, le=100)  # on the first connection only
    status_seconds: float = Field(default=10.0, gt=0)
    backoff: BackoffPolicy = BackoffPolicy()
    buffer: BufferBound = BufferBound()

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, symbols: tuple[str, ...]) -> tuple[str, ...]:
        for symbol in symbols:
            if not SYMBOL_PATTERN.fullmatch(symbol):
                raise ValueError(f"invalid symbol {symbol!r}: expected 2-20 upper-case letters or digits, e.g. BTCUSDT")
        if len(set(symbols)) != len(symbols):
            raise ValueError("a symbol is listed twice")
        return symbols

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        try:
            parts = urlsplit(url)
            port = parts.port  # raises on a port that is not a number
        except ValueError as error:
            raise ValueError(f"malformed URL {url!r}: {error}") from None
        if parts.scheme not in ("ws", "wss"):
            raise ValueError(f"malformed URL {url!r}: expected ws:// or wss://")
        if not parts.hostname:
            raise ValueError(f"malformed URL {url!r}: no host")
        if parts.query or parts.fragment:
            raise ValueError(f"malformed URL {url!r}: give the endpoint without ?streams= (the recorder adds it)")
        if port == 0:
            raise ValueError(f"malformed URL {url!r}: port 0")
        return url

    @model_validator(mode="after")
    def _backoff_fits(self) -> RecorderConfig:
        if self.backoff.base_seconds > self.backoff.cap_seconds:
            raise ValueError("the backoff's base delay exceeds its cap")
        return self

    @property
    def endpoint(self) -> str:
        return self.url or DEFAULT_URLS[self.market]

    @property
    def streams(self) -> list[str]:
        """Stream names in Binance's spelling: lower-case symbol, '@', channel."""
        return [f"{symbol.lower()}@{channel}" for symbol in self.symbols for channel in CHANNELS]

    @property
    def stream_url(self) -> str:
        """The combined-stream URL that subscribes to every stream: connecting again re-subscribes."""
        return f"{self.endpoint}?streams={'/'.join(self.streams)}"
