"""``sniper ingest binance|recording|options|ledger``: real market data into the raw schema."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, time, timezone
from pathlib import Path

import psycopg
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from sniper.db.connection import connect
from sniper.db.migrate import migrate
from sniper.errors import UserError
from sniper.ingest.binance import SOURCE_KIND as BINANCE_KIND
from sniper.ingest.archive_kinds import LAYOUTS
from sniper.ingest.binance import DayOutcome, archive_names, ingest_binance, not_published_line
from sniper.ingest.config import (
    ARCHIVE_KINDS,
    DEFAULT_BASE_URL,
    DEFAULT_CHUNK_ROWS,
    KLINE_INTERVALS,
    MARKETS,
    PUBLISHED_RANGES,
    BinanceRequest,
    FileRequest,
    RetryPolicy,
)
from sniper.ingest.ledger import ledger_rows, outstanding_failures
from sniper.ingest.local import OPTIONS_KIND, RECORDING_KIND, FileOutcome, ingest_options, ingest_recordings
from sniper.ingest.progress import RichFileProgress
from sniper.live.spans import SOURCE_KIND as LIVE_KIND
from sniper.validation import parse_date

# Off a terminal (a pipe, a log file) rich would wrap tables at 80 columns and cut paths.
console = Console(width=None if sys.stdout.isatty() else 240)
FAILED = 2  # a day or file that could not be loaded is the user's input problem: exit 2, like UserError


def register(nouns: argparse._SubParsersAction) -> None:
    ingest = nouns.add_parser("ingest", help="load real market data: Binance archives, recordings, options chains")
    verbs = ingest.add_subparsers(dest="verb", required=True, parser_class=type(ingest))

    futures_only = sorted({kind for market, kind in PUBLISHED_RANGES if market == "um"} - {
        kind for market, kind in PUBLISHED_RANGES if market == "spot"})
    binance = verbs.add_parser(
        "binance",
        help="Binance public archives (daily; fundingRate monthly), checksum-verified",
        description="Load Binance archives for the days START <= day < END (END is exclusive: "
        "--start 2024-06-01 --end 2024-06-08 loads seven days; a monthly kind loads the months those days "
        "touch). Each archive is verified against its .CHECKSUM before a row is loaded; files already in the "
        "ledger are skipped without downloading. A 404 outside the range Binance publishes a kind for is "
        "reported as not published, not as a failure.",
    )
    binance.add_argument("--market", required=True, choices=MARKETS, help="spot or USD-M futures (um)")
    binance.add_argument(
        "--kind", required=True, choices=ARCHIVE_KINDS, help=f"{', '.join(futures_only)}: um only"
    )
    binance.add_argument("--symbol", required=True, help="e.g. BTCUSDT")
    binance.add_argument("--start", required=True, help="first day, YYYY-MM-DD (UTC)")
    binance.add_argument("--end", required=True, help="day after the last, YYYY-MM-DD (exclusive)")
    binance.add_argument("--interval", help=f"klines only: one of {', '.join(KLINE_INTERVALS)}")
    binance.add_argument("--base-url", default=DEFAULT_BASE_URL, help=f"archive server (default {DEFAULT_BASE_URL})")
    binance.add_argument("--from-dir", type=Path, help="read the same relative layout from this directory instead")
    binance.add_argument(
        "--retries", type=int, default=RetryPolicy().attempts, help="attempts per file in total on network errors"
    )
    binance.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help="rows per COPY batch")
    binance.set_defaults(handler=run_binance)

    recording = verbs.add_parser(
        "recording",
        help="recorded Binance websocket streams (gzip JSON lines)",
        description="Load '<receive ns> <json>' recordings of Binance combined streams: @trade to raw.trades, "
        "@bookTicker to raw.l1_quotes; @depth updates and REST snapshots are skipped and counted.",
    )
    recording.add_argument("files", nargs="+", type=Path, metavar="FILE")
    recording.add_argument("--market", choices=["spot", "um"], help="default: inferred from the messages")
    recording.add_argument("--symbol", help="reject messages of any other symbol")
    recording.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help="lines per COPY batch")
    recording.set_defaults(handler=run_recording)

    options = verbs.add_parser(
        "options",
        help="Tardis.dev options_chain CSV files (gzip or plain)",
        description="Load Tardis.dev options_chain CSVs (Deribit) into raw.options_chain. A date in the file "
        "name (YYYY-MM-DD, as Tardis names daily files) makes rows of other days rejects.",
    )
    options.add_argument("files", nargs="+", type=Path, metavar="FILE")
    options.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help="lines per COPY batch")
    options.set_defaults(handler=run_options)

    ledger = verbs.add_parser("ledger", help="show what has been loaded, and failures not yet made good")
    ledger.add_argument(
        "--kind", choices=[BINANCE_KIND, RECORDING_KIND, OPTIONS_KIND, LIVE_KIND], help="one source kind"
    )
    ledger.add_argument("--limit", type=int, default=50)
    ledger.set_defaults(handler=run_ledger)


def _validated(model, *, rename: dict[str, str] | None = None, **fields):
    """Build a pydantic request; its first validation error becomes a one-line UserError."""
    try:
        return model(**fields)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        option = (rename or {}).get(where, where.replace("_", "-"))
        message = first["msg"].removeprefix("Value error, ")
        if not where or message.startswith("invalid "):
            raise UserError(message) from None
        raise UserError(f"invalid --{option}: {message}") from None


def binance_request(args: argparse.Namespace) -> BinanceRequest:
    if args.from_dir is not None and not args.from_dir.is_dir():
        raise UserError(f"--from-dir {args.from_dir} is not a directory")
    retry = _validated(RetryPolicy, rename={"attempts": "retries"}, attempts=args.retries)
    return _validated(
        BinanceRequest,
        market=args.market,
        kind=args.kind,
        symbol=args.symbol,
        start=parse_date(args.start, name="--start"),
        end=parse_date(args.end, name="--end"),
        interval=args.interval,
        base_url=args.base_url,
        from_dir=args.from_dir,
        chunk_rows=args.chunk_rows,
        retry=retry,
    )


def _report_failures(messages: list[str]) -> int:
    for message in messages:
        sys.stderr.write(f"sniper: error: {message}\n")
    return FAILED if messages else 0


def run_binance(args: argparse.Namespace) -> int:
    request = binance_request(args)
    with connect(autocommit=True) as conn:
        migrate(conn)
        with RichFileProgress() as progress:
            outcomes = ingest_binance(conn, request, progress=progress)
        _print_days(outcomes)
        not_published = not_published_line(request, outcomes)
        if not_published:
            console.print(not_published, soft_wrap=True, markup=False)
        _print_ledger_summary(conn, request)
    return _report_failures([o.message for o in outcomes if not o.ok])


def _print_days(outcomes: list[DayOutcome]) -> None:
    """One row per file, except those not published (named in one line after the table)."""
    shown = [o for o in outcomes if o.status != "not published"]
    if not shown:
        return
    table = Table("month" if shown[0].name.cadence == "monthly" else "day", "status", "rows loaded", "rejected",
                  "duplicates", "note")
    for o in shown:
        r = o.result
        table.add_row(
            o.label,
            o.status,
            f"{r.rows_loaded:,}" if r else "-",
            f"{r.rows_rejected:,}" if r else "-",
            f"{r.rows_duplicate:,}" if r else "-",
            o.message,
        )
    console.print(table)


def _print_ledger_summary(conn: psycopg.Connection, request: BinanceRequest) -> None:
    sources = [name.relative_path for name in archive_names(request)]
    held = ledger_rows(conn, source_kind=BINANCE_KIND, sources=sources, limit=len(sources))
    layout = LAYOUTS[request.kind]
    table_name, time_column = layout.table, layout.time_column
    start = datetime.combine(request.start, time(), tzinfo=timezone.utc)
    end = datetime.combine(request.end, time(), tzinfo=timezone.utc)
    unit = "months" if request.published.cadence == "monthly" else "days"
    extra = " and interval = %(interval)s" if request.kind == "klines" else ""
    count = conn.execute(
        f"select count(*) from {table_name} where exchange = 'binance' and market = %(market)s"  # noqa: S608
        f" and symbol = %(symbol)s and {time_column} >= %(start)s and {time_column} < %(end)s{extra}",
        {"market": request.market, "symbol": request.symbol, "start": start, "end": end, "interval": request.interval},
    ).fetchone()[0]
    console.print(
        f"ledger: {len(held)} of {len(sources)} {unit} held for {request.symbol} {request.market} {request.data_kind} "
        f"({sum(row.rows_loaded for row in held):,} rows, {sum(row.rows_rejected for row in held):,} rejected); "
        f"{table_name} holds {count:,} rows for {request.start} <= day < {request.end}"
    )


def _file_request(args: argparse.Namespace, **extra) -> FileRequest:
    return _validated(FileRequest, files=args.files, chunk_rows=args.chunk_rows, **extra)


def _print_files(outcomes: list[FileOutcome]) -> None:
    table = Table("file", "status", "rows loaded", "rejected", "duplicates", "skipped", "note")
    for o in outcomes:
        r = o.result
        skipped = ", ".join(f"{kind} {count:,}" for kind, count in sorted(r.skipped.items())) if r else ""
        table.add_row(
            o.path.name,
            o.status,
            f"{r.rows_loaded:,}" if r else "-",
            f"{r.rows_rejected:,}" if r else "-",
            f"{r.rows_duplicate:,}" if r else "-",
            skipped or "-",
            o.message,
        )
    console.print(table)


def run_recording(args: argparse.Namespace) -> int:
    request = _file_request(args, market=args.market, symbol=args.symbol)
    with connect(autocommit=True) as conn:
        migrate(conn)
        with RichFileProgress() as progress:
            outcomes = ingest_recordings(conn, request, progress=progress)
    _print_files(outcomes)
    return _report_failures([o.message for o in outcomes if not o.ok])


def run_options(args: argparse.Namespace) -> int:
    request = _file_request(args)
    with connect(autocommit=True) as conn:
        migrate(conn)
        with RichFileProgress() as progress:
            outcomes = ingest_options(conn, request, progress=progress)
    _print_files(outcomes)
    return _report_failures([o.message for o in outcomes if not o.ok])


def run_ledger(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UserError("--limit must be at least 1")
    with connect(autocommit=True) as conn:
        migrate(conn)
        rows = ledger_rows(conn, source_kind=args.kind, limit=args.limit)
        failures = outstanding_failures(conn, source_kind=args.kind, limit=args.limit)
    table = Table("kind", "source", "symbol", "data", "first ts", "last ts", "rows", "rejected", "loaded at")
    for row in rows:
        table.add_row(
            row.source_kind,
            row.source,
            row.symbol or "-",
            row.data_kind or "-",
            str(row.first_ts or "-"),
            str(row.last_ts or "-"),
            f"{row.rows_loaded:,}",
            f"{row.rows_rejected:,}",
            f"{row.loaded_at:%Y-%m-%d %H:%M:%S}",
        )
    console.print(table)
    if failures:
        failed = Table("kind", "source", "reason", "failed at", title="failed and not loaded since")
        for failure in failures:
            failed_at = f"{failure.failed_at:%Y-%m-%d %H:%M:%S}"
            failed.add_row(failure.source_kind, failure.source, failure.reason, failed_at)
        console.print(failed)
    return 0
