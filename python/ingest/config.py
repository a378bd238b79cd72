"""Typed, validated requests for the loaders; the CLI builds these at the edge."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sniper.validation import SYMBOL_PATTERN

Market = Literal["spot", "um"]
ArchiveKind = Literal["trades", "aggTrades", "klines"]

# Intervals Binance publishes daily kline archives for.
KLINE_INTERVALS = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
DEFAULT_BASE_URL = "https://data.binance.vision"
# Rows per COPY batch: peak memory follows this (about 1 MB per 1,000 rows), not the file size.
DEFAULT_CHUNK_ROWS = 50_000


class RetryPolicy(BaseModel):
    """Bounded exponential backoff for network errors: delay = base * 2**attempt, capped."""

    model_config = ConfigDict(frozen=True)

    attempts: int = Field(default=5, ge=1, le=20)
    base_delay_seconds: float = Field(default=0.5, ge=0)
    max_delay_seconds: float = Field(default=30.0, ge=0)
    timeout_seconds: float = Field(default=60.0, gt=0)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based).

        >>> RetryPolicy(base_delay_seconds=0.5, max_delay_seconds=3).delay(0), RetryPolicy(
        ...     base_delay_seconds=0.5, max_delay_seconds=3).delay(4)
        (0.5, 3.0)
        """
        return float(min(self.max_delay_seconds, self.base_delay_seconds * 2**attempt))


class BinanceRequest(BaseModel):
    """One `sniper ingest binance` run: a symbol, a kind of archive, and days [start, end)."""

    model_config = ConfigDict(frozen=True)

    market: Market
    kind: ArchiveKind
    symbol: str
    start: date
    end: date  # exclusive: --start 2024-06-01 --end 2024-06-08 is the seven days 06-01..06-07
    interval: str | None = None
    base_url: str = DEFAULT_BASE_URL
    from_dir: Path | None = None
    chunk_rows: int = Field(default=DEFAULT_CHUNK_ROWS, ge=1)
    retry: RetryPolicy = RetryPolicy()

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str) -> str:
        if not SYMBOL_PATTERN.fullmatch(value):
            raise ValueError(f"invalid symbol {value!r}: expected 2-20 upper-case letters or digits, e.g. BTCUSDT")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base URL {value!r} must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> BinanceRequest:
        if self.start >= self.end:
            raise ValueError(f"start {self.start} is not before end {self.end} (the end date is exclusive)")
        if self.kind == "klines":
            if self.interval is None:
                raise ValueError("klines need an interval, e.g. --interval 1m")
            if self.interval not in KLINE_INTERVALS:
                raise ValueError(f"interval {self.interval!r} is not one of {', '.join(KLINE_INTERVALS)}")
        elif self.interval is not None:
            raise ValueError(f"--interval applies to klines only, not {self.kind}")
        return self

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days)]

    @property
    def data_kind(self) -> str:
        return f"klines_{self.interval}" if self.kind == "klines" else self.kind


class FileRequest(BaseModel):
    """One `sniper ingest recording|options` run over local files."""

    model_config = ConfigDict(frozen=True)

    files: list[Path] = Field(min_length=1)
    market: Market | None = None  # recordings only; inferred from the messages when None
    symbol: str | None = None  # recordings only; every message must be of this symbol
    chunk_rows: int = Field(default=DEFAULT_CHUNK_ROWS, ge=1)

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str | None) -> str | None:
        if value is not None and not SYMBOL_PATTERN.fullmatch(value):
            raise ValueError(f"invalid symbol {value!r}: expected 2-20 upper-case letters or digits, e.g. BTCUSDT")
        return value
