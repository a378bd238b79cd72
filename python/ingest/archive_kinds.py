"""Each Binance archive kind sniper loads: its published CSV header per market, its raw table, its parser.

The one description of a kind's file; which days Binance publishes it is in
config.PUBLISHED_RANGES. A file may start with the header (futures files do, older ones
and spot files do not): a first line that does not start with a digit must equal it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

from sniper.ingest.binance_csv import (
    AGG_TRADE_COLUMNS,
    KLINE_COLUMNS,
    SPOT_AGG_TRADE_COLUMNS,
    SPOT_TRADE_COLUMNS,
    TRADE_COLUMNS,
    ArchiveContentError,
    ArchiveContext,
    parse_agg_trades,
    parse_klines,
    parse_trades,
)
from sniper.ingest.binance_futures_csv import (
    BOOK_DEPTH_COLUMNS,
    BOOK_TICKER_COLUMNS,
    FUNDING_RATE_COLUMNS,
    METRICS_COLUMNS,
    parse_book_depth,
    parse_book_ticker,
    parse_funding_rates,
    parse_metrics,
)
from sniper.ingest.config import ArchiveKind
from sniper.ingest.layout import ArchiveName
from sniper.ingest.lines import Batch, FirstVersions, LineBatch, iter_line_batches

Parser = Callable[[LineBatch, ArchiveContext], Batch]


def _stateless(parse: Parser) -> Callable[[], Parser]:
    return lambda: parse


def _keyed(parse: Callable[[LineBatch, ArchiveContext, FirstVersions], Batch]) -> Callable[[], Parser]:
    """A parser that remembers the file's earlier rows by key (a new memory per file)."""
    return lambda: functools.partial(parse, versions=FirstVersions())


@dataclass(frozen=True)
class KindLayout:
    """One archive kind's file: the header per market, where its rows go, how a file is parsed."""

    headers: dict[str, tuple[str, ...]]  # market -> published columns
    table: str
    time_column: str  # the table's time, for the row count of a requested range
    new_parser: Callable[[], Parser]  # called once per file


LAYOUTS: dict[ArchiveKind, KindLayout] = {
    "trades": KindLayout(
        {"spot": SPOT_TRADE_COLUMNS, "um": TRADE_COLUMNS}, "raw.trades", "ts", _stateless(parse_trades)
    ),
    "aggTrades": KindLayout(
        {"spot": SPOT_AGG_TRADE_COLUMNS, "um": AGG_TRADE_COLUMNS}, "raw.agg_trades", "ts", _stateless(parse_agg_trades)
    ),
    "klines": KindLayout(
        {"spot": KLINE_COLUMNS, "um": KLINE_COLUMNS}, "raw.klines", "open_at", _stateless(parse_klines)
    ),
    "bookTicker": KindLayout({"um": BOOK_TICKER_COLUMNS}, "raw.l1_quotes", "ts", _stateless(parse_book_ticker)),
    "bookDepth": KindLayout({"um": BOOK_DEPTH_COLUMNS}, "raw.depth_bands", "ts", _keyed(parse_book_depth)),
    "metrics": KindLayout({"um": METRICS_COLUMNS}, "raw.futures_metrics", "ts", _keyed(parse_metrics)),
    "fundingRate": KindLayout({"um": FUNDING_RATE_COLUMNS}, "raw.funding_rates", "ts", _keyed(parse_funding_rates)),
}


def archive_context(name: ArchiveName) -> ArchiveContext:
    layout = LAYOUTS[name.kind]  # type: ignore[index]
    return ArchiveContext(
        market=name.market,
        kind=name.kind,
        symbol=name.symbol,
        day=name.day,
        columns=layout.headers[name.market],
        table=layout.table,
        interval=name.interval,
        cadence=name.cadence,
    )


def iter_batches(stream: TextIO, context: ArchiveContext, batch_rows: int) -> Iterator[Batch]:
    """Parse a whole archive CSV, ``batch_rows`` lines at a time; a header line is recognised and checked."""
    first = stream.readline()
    if not first.strip():
        raise ArchiveContentError("the archive's CSV is empty")
    first_line = first.lstrip("\ufeff")
    if first_line[:1].isdigit():
        lines, first_number = itertools.chain([first_line], stream), 1
    else:
        header = tuple(name.strip() for name in first_line.rstrip("\r\n").split(","))
        if header != context.columns:
            raise ArchiveContentError(
                f"unexpected header {','.join(header)!r} for {context.market} {context.kind} "
                f"(expected {','.join(context.columns)!r})"
            )
        lines, first_number = stream, 2
    parse = LAYOUTS[context.kind].new_parser()  # type: ignore[index]
    seen = False
    for batch in iter_line_batches(lines, batch_rows, first_number=first_number):
        seen = True
        yield parse(batch, context)
    if not seen:
        raise ArchiveContentError("the archive's CSV has a header but no rows")
