"""USD-M futures archives in Binance's published layouts, and a tree of them for tests (and benchmarks) to serve.

The headers below are copied from published files (docs/ingest.md cites where), not
imported from the loader, so a test checks the loader against what Binance writes. Values
are binary fractions (multiples of 1/8, 1/64, 2^-14): exact in float8 and in their
printed text, so a round trip can be compared with ==.

``write_archive_tree`` writes, for given symbols, days and kinds, every file Binance
would have published (bookTicker only through 2024-03-30: the server then answers 404)
and returns the rows it wrote, from which a test computes the counts and values it expects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sniper.ingest.layout import ArchiveName
from tests.ingest_fixtures import Trade, csv_text, make_trades, spot_trade_line, write_archive

BOOK_TICKER_HEADER = "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time"
BOOK_DEPTH_HEADER = "timestamp,percentage,depth,notional"
METRICS_HEADER = (
    "create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,"
    "sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio"
)
FUNDING_RATE_HEADER = "calc_time,funding_interval_hours,last_funding_rate"
# The bands of a published bookDepth snapshot (issues #431 and #496 of binance/binance-public-data).
BOOK_DEPTH_PERCENTAGES = (-5, -4, -3, -2, -1, -0.2, 0.2, 1, 2, 3, 4, 5)
BOOK_TICKER_LAST_DAY = date(2024, 3, 30)  # Binance's last daily um bookTicker file
FUTURES_KINDS = ("bookTicker", "bookDepth", "metrics", "fundingRate")
PRICE_SCALE = {"BTCUSDT": 1.0, "ETHUSDT": 0.0625}  # ETH quotes at 1/16 of BTC's, so the symbols differ


def utc_datetime(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=micros)


def day_start_us(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()) * 1_000_000


@dataclass(frozen=True)
class BookTick:
    update_id: int
    bid: float
    bid_qty: float
    ask: float
    ask_qty: float
    transaction_us: int
    micros: bool = False  # print times in µs instead of ms

    def line(self) -> str:
        scale = 1 if self.micros else 1000
        event = self.transaction_us + 5_000
        return (f"{self.update_id},{self.bid:.8f},{self.bid_qty:.8f},{self.ask:.8f},{self.ask_qty:.8f},"
                f"{self.transaction_us // scale},{event // scale}")

    def row(self) -> tuple:
        """As raw.l1_quotes stores it: update_id, ts, bid_price, bid_qty, ask_price, ask_qty."""
        return (self.update_id, utc_datetime(self.transaction_us), self.bid, self.bid_qty, self.ask, self.ask_qty)


def make_book_ticks(day: date, n: int, first_id: int, symbol: str, *, micros: bool = False) -> list[BookTick]:
    start, step = day_start_us(day), 86_400_000_000 // (n + 1)
    scale = PRICE_SCALE[symbol]
    ticks = []
    for i in range(n):
        bid = (60_000 + (i * 37 % 400) * 0.5) * scale
        time_us = start + (i + 1) * step
        ticks.append(BookTick(first_id + i * 3, bid, 0.125 * (1 + i % 40), bid + 0.5 * scale, 0.25 * (i % 9),
                              time_us if micros else time_us // 1000 * 1000, micros))
    return ticks


@dataclass(frozen=True)
class DepthBand:
    time_us: int  # whole seconds, as published
    percentage: float
    depth: float
    notional: float
    two_decimals: bool = False  # "-5.00" (2026 files) rather than "-5" (2025 files)

    def line(self) -> str:
        text = f"{self.percentage:.2f}" if self.two_decimals else f"{self.percentage:g}"
        return f"{utc_datetime(self.time_us):%Y-%m-%d %H:%M:%S},{text},{self.depth:.8f},{self.notional:.8f}"

    def row(self) -> tuple:
        """As raw.depth_bands stores it: ts, side, band_pct, depth, notional."""
        side = "bid" if self.percentage < 0 else "ask"
        return (utc_datetime(self.time_us), side, abs(self.percentage), self.depth, self.notional)


def make_depth_bands(day: date, snapshots: int, symbol: str, *, two_decimals: bool = False) -> list[DepthBand]:
    """``snapshots`` snapshots spread over the day, 12 cumulative bands each (depth grows away from the mid)."""
    start, step = day_start_us(day), 86_400 // snapshots
    scale = PRICE_SCALE[symbol]
    bands = []
    for s in range(snapshots):
        time_us = start + (s * step + 7) * 1_000_000
        for k, percentage in enumerate(BOOK_DEPTH_PERCENTAGES):
            depth = 1.5 * (abs(percentage) * 5 + 1) + s * 0.25 + k * 0.125
            bands.append(DepthBand(time_us, percentage, depth, depth * 64_000 * scale, two_decimals))
    return bands


@dataclass(frozen=True)
class Metric:
    create_us: int
    symbol: str
    open_interest: float
    ratios: tuple[float | None, float | None, float | None, float | None]  # None: an empty field

    @property
    def open_interest_value(self) -> float:
        return self.open_interest * 64_000 * PRICE_SCALE[self.symbol]

    def line(self) -> str:
        ratios = ",".join("" if r is None else f"{r:.8f}" for r in self.ratios)
        return (f"{utc_datetime(self.create_us):%Y-%m-%d %H:%M:%S},{self.symbol},{self.open_interest:.3f},"
                f"{self.open_interest_value:.8f},{ratios}")

    def row(self) -> tuple:
        """As raw.futures_metrics stores it: ts, the two open interests, the four ratios (None: NULL)."""
        return (utc_datetime(self.create_us), self.open_interest, self.open_interest_value, *self.ratios)


def make_metrics(day: date, symbol: str, *, every_minutes: int = 5, shuffled: bool = False) -> list[Metric]:
    """One row per ``every_minutes`` from 00:00 (288 a day as published); every 7th row leaves two ratios empty."""
    start = day_start_us(day)
    rows = []
    for i in range(24 * 60 // every_minutes):
        ratio = 1 + (i % 8) * 0.125
        ratios = (ratio, ratio + 0.5, None, None) if i % 7 == 3 else (ratio, ratio + 0.5, ratio + 0.25, ratio / 2)
        rows.append(Metric(start + i * every_minutes * 60_000_000, symbol, 80_000 + i * 0.5, ratios))
    if shuffled:  # metrics files are not always in time order
        rows = rows[1::2] + rows[::2]
    return rows


@dataclass(frozen=True)
class Funding:
    calc_us: int  # a few ms after the hour, as published
    interval_hours: int
    rate: float
    micros: bool = False

    def line(self) -> str:
        return f"{self.calc_us if self.micros else self.calc_us // 1000},{self.interval_hours},{self.rate:.14f}"

    def row(self) -> tuple:
        """As raw.funding_rates stores it: ts, funding_interval_hours, funding_rate."""
        return (utc_datetime(self.calc_us), self.interval_hours, self.rate)


def make_funding(month: date, *, micros: bool = False) -> list[Funding]:
    """Every 8 hours of the month: rates negative, zero and positive, in units of 2^-14."""
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    start, hours = day_start_us(month), (following - month).days * 24
    return [
        Funding(start + (h * 3_600 * 1_000 + 1 + h % 9) * 1_000, 8, ((h // 8) % 7 - 3) * 2**-14, micros)
        for h in range(0, hours, 8)
    ]


@dataclass
class ArchiveTree:
    """What ``write_archive_tree`` wrote: per (market, kind, symbol), the rows of each file, by file label."""

    root: Path
    rows: dict[tuple[str, str, str], dict[str, list]] = field(default_factory=dict)

    def files(self, market: str, kind: str, symbol: str) -> list[str]:
        return sorted(self.rows.get((market, kind, symbol), {}))

    def expected(self, market: str, kind: str, symbol: str) -> list:
        """Every row written for the key, in file order."""
        by_file = self.rows.get((market, kind, symbol), {})
        return [row for label in sorted(by_file) for row in by_file[label]]

    def expected_count(self, market: str, kind: str, symbol: str) -> int:
        return len(self.expected(market, kind, symbol))


def months_of(days: Iterable[date]) -> list[date]:
    return sorted({day.replace(day=1) for day in days})


def write_archive_tree(
    root: Path,
    symbols: Iterable[str],
    days: list[date],
    kinds: Iterable[str] = (*FUTURES_KINDS, "trades"),
    *,
    ticks_per_day: int = 60,
    depth_snapshots: int = 12,
    metrics_every_minutes: int = 5,
) -> ArchiveTree:
    """Write the archives Binance publishes for ``symbols`` over ``days`` (fundingRate: the months they touch).

    ``kinds``: USD-M futures kinds, and "trades" for spot trades (headerless, as spot files
    are). Alternating days are written without the header; bookTicker days with index
    2 mod 3 and April fundingRate files print times in µs; bookDepth alternates "-5" and
    "-5.00"; metrics files are written out of time order on odd days. bookTicker days after
    2024-03-30 are not written, so a server over ``root`` answers 404 for them.
    """
    tree = ArchiveTree(root)
    for s, symbol in enumerate(symbols):
        for kind in kinds:
            written = tree.rows.setdefault(("spot" if kind == "trades" else "um", kind, symbol), {})
            periods = months_of(days) if kind == "fundingRate" else days
            for index, period in enumerate(periods):
                header = index % 2 == 0
                if kind == "bookTicker":
                    if period > BOOK_TICKER_LAST_DAY:
                        continue
                    first_id = 3_800_000_000_000 + (s * 100 + index) * 1_000_000
                    rows = make_book_ticks(period, ticks_per_day, first_id, symbol, micros=index % 3 == 2)
                    text = csv_text([r.line() for r in rows], BOOK_TICKER_HEADER if header else None)
                elif kind == "bookDepth":
                    rows = make_depth_bands(period, depth_snapshots, symbol, two_decimals=index % 2 == 1)
                    text = csv_text([r.line() for r in rows], BOOK_DEPTH_HEADER if header else None)
                elif kind == "metrics":
                    rows = make_metrics(period, symbol, every_minutes=metrics_every_minutes, shuffled=index % 2 == 1)
                    text = csv_text([r.line() for r in rows], METRICS_HEADER if header else None)
                elif kind == "fundingRate":
                    rows = make_funding(period, micros=period.month == 4)
                    text = csv_text([r.line() for r in rows], FUNDING_RATE_HEADER if header else None)
                elif kind == "trades":
                    rows = make_trades(period, ticks_per_day, first_id=(s * 100 + index) * 10_000)
                    text = csv_text([spot_trade_line(t) for t in rows])
                else:
                    raise ValueError(f"no fixture for kind {kind!r}")
                name = ArchiveName("spot" if kind == "trades" else "um", kind, symbol, period)
                write_archive(root, name, text)
                written[name.label] = rows
    return tree


def trade_row(trade: Trade) -> tuple:
    """As raw.trades stores a spot trade: trade_id, ts, price, qty, is_buyer_maker."""
    return (trade.trade_id, utc_datetime(trade.time * 1000), float(f"{trade.price:.8f}"),
            float(f"{trade.qty:.8f}"), trade.is_buyer_maker)
