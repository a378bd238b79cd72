"""Typed, validated requests for the loaders; the CLI builds these at the edge."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sniper.validation import SYMBOL_PATTERN

Market = Literal["spot", "um"]
ArchiveKind = Literal["trades", "aggTrades", "klines", "bookTicker", "bookDepth", "metrics", "fundingRate"]
Cadence = Literal["daily", "monthly"]  # one file per day, or one per calendar month
MARKETS: tuple[Market, ...] = get_args(Market)
ARCHIVE_KINDS: tuple[ArchiveKind, ...] = get_args(ArchiveKind)

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


class PublishedRange(BaseModel):
    """The days (or months) data.binance.vision publishes one archive kind for, whatever the symbol.

    A 404 outside this range is "not published" (reported, not a failure); inside it, a
    404 is a missing file. The range is the kind's, not a symbol's: a symbol listed
    later than ``first_day`` has no files before its listing, and those 404s are failures
    (or, when every requested day 404s, "the archive has no <kind> for <SYMBOL>").
    """

    model_config = ConfigDict(frozen=True)

    market: Market
    kind: ArchiveKind
    cadence: Cadence
    first_day: date  # a monthly kind: the first day of its first month
    last_day: date | None  # None: still published (daily: through yesterday; monthly: through last month)
    evidence: str  # where the range comes from (docs/ingest.md, "Published ranges")

    def last_published(self, today: date) -> date:
        """The day (or first day of the month) of the newest file this kind can have on ``today`` (UTC).

        >>> UM_FUNDING.last_published(date(2024, 4, 10)), UM_BOOK_DEPTH.last_published(date(2024, 4, 10))
        (datetime.date(2024, 3, 1), datetime.date(2024, 4, 9))
        """
        if self.last_day is not None:
            return self.last_day
        if self.cadence == "daily":
            return today - timedelta(days=1)
        return (today.replace(day=1) - timedelta(days=1)).replace(day=1)

    def covers(self, period_start: date, today: date) -> bool:
        """Whether the file starting on ``period_start`` (a day, or a month's first day) lies in the range."""
        return self.first_day <= period_start <= self.last_published(today)

    def describe(self) -> str:
        """E.g. "Binance published um bookTicker from 2023-05-16 to 2024-03-30".

        >>> UM_FUNDING.describe()
        'Binance publishes um fundingRate monthly from 2020-01, each month after it ends'
        """
        first = self.first_day.strftime("%Y-%m") if self.cadence == "monthly" else self.first_day.isoformat()
        if self.last_day is not None:
            last = self.last_day.strftime("%Y-%m") if self.cadence == "monthly" else self.last_day.isoformat()
            return f"Binance published {self.market} {self.kind} from {first} to {last}"
        if self.cadence == "monthly":
            return f"Binance publishes {self.market} {self.kind} monthly from {first}, each month after it ends"
        return f"Binance publishes {self.market} {self.kind} from {first}, each day's file the day after"


SPOT_START = date(2017, 7, 14)  # Binance's first trading day: no spot file can be older
UM_START = date(2019, 9, 1)  # before the first USD-M contract (BTCUSDT, September 2019)
UM_FUNDING = PublishedRange(
    market="um", kind="fundingRate", cadence="monthly", first_day=date(2020, 1, 1), last_day=None,
    evidence="monthly files from 2020-01 (bucket listings quoted in public code); no daily fundingRate files",
)
UM_BOOK_DEPTH = PublishedRange(
    market="um", kind="bookDepth", cadence="daily", first_day=date(2023, 1, 1), last_day=None,
    evidence="first file 2023-01-01, 2022-12-31 answers 404 (probes quoted in public code); still published",
)
# The one table of what Binance publishes: a (market, kind) missing here does not exist
# (bookTicker, bookDepth, metrics and fundingRate are USD-M futures only).
PUBLISHED_RANGES: dict[tuple[Market, ArchiveKind], PublishedRange] = {
    (r.market, r.kind): r
    for r in [
        *(
            PublishedRange(market="spot", kind=kind, cadence="daily", first_day=SPOT_START, last_day=None,
                           evidence="conservative: Binance's first trading day; a symbol's files start at its listing")
            for kind in ("trades", "aggTrades", "klines")
        ),
        *(
            PublishedRange(market="um", kind=kind, cadence="daily", first_day=UM_START, last_day=None,
                           evidence="conservative: before the first USD-M contract; a symbol's files start later")
            for kind in ("trades", "aggTrades", "klines")
        ),
        PublishedRange(
            market="um", kind="bookTicker", cadence="daily", first_day=date(2023, 5, 16), last_day=date(2024, 3, 30),
            evidence="binance-public-data issues #334 and #380: no daily file after 2024-03-30 (last upload "
            "2024-03-31T07:48Z); first file 2023-05-16 (quoted in public code; 2022-12-09 answers 404)",
        ),
        UM_BOOK_DEPTH,
        PublishedRange(
            market="um", kind="metrics", cadence="daily", first_day=date(2021, 12, 1), last_day=None,
            evidence="first file 2021-12-01 (bucket listings quoted in public code, issue #287); still published",
        ),
        UM_FUNDING,
    ]
}


def published_range(market: Market, kind: ArchiveKind) -> PublishedRange:
    """The published range of ``kind`` on ``market``; a ValueError names the markets that have it."""
    found = PUBLISHED_RANGES.get((market, kind))
    if found is None:
        markets = [m for (m, k) in PUBLISHED_RANGES if k == kind]
        raise ValueError(f"{kind} archives exist for {' and '.join(markets)} only, not {market}")
    return found


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
        published_range(self.market, self.kind)  # the kind exists for the market
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
    def published(self) -> PublishedRange:
        return published_range(self.market, self.kind)

    @property
    def periods(self) -> list[date]:
        """The files the request touches: its days, or for a monthly kind the first day of each month it touches."""
        if self.published.cadence == "daily":
            return self.days
        return sorted({day.replace(day=1) for day in self.days})

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
