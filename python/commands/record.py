"""``sniper record``: record Binance trades and bookTicker quotes live into the raw schema.

Runs in the foreground until SIGTERM or SIGINT (then it writes what it holds, closes its
spans and exits 0). See docs/live.md.
"""

from __future__ import annotations

import argparse
import sys

import psycopg
from pydantic import ValidationError

from sniper.db.connection import connect, is_lost_server, lost_server_error, resolve_target
from sniper.db.migrate import migrate
from sniper.errors import UserError
from sniper.live.config import DEFAULT_URLS, BufferBound, RecorderConfig
from sniper.live.recorder import WriterFailed, record
from sniper.live.spans import InstrumentBusy

EXIT_ALREADY_RUNNING = 75
MEGABYTE = 1024 * 1024


def register(nouns: argparse._SubParsersAction) -> None:
    recorder = nouns.add_parser(
        "record",
        help="record Binance trades and bookTicker quotes live (websocket combined streams)",
        description="Connect to Binance's combined streams and write <symbol>@trade to raw.trades and "
        "<symbol>@bookTicker to raw.l1_quotes in batches, at least one a second; reconnect with backoff; "
        "record every connected span in raw.recording_spans and raw.load_ledger. Stop with SIGTERM or Ctrl-C.",
    )
    recorder.add_argument("--market", required=True, choices=sorted(DEFAULT_URLS), help="spot or USD-M futures (um)")
    recorder.add_argument("--symbols", required=True, help="comma-separated, e.g. BTCUSDT,ETHUSDT")
    recorder.add_argument("--url", help="combined-stream endpoint (default: Binance's for the market)")
    recorder.add_argument("--stall-seconds", type=float, default=RecorderConfig.model_fields["stall_seconds"].default,
                          help="reconnect when no message arrived for this long")
    recorder.add_argument("--connect-attempts", type=int,
                          default=RecorderConfig.model_fields["connect_attempts"].default,
                          help="attempts at the first connection before giving up (later drops retry forever)")
    recorder.add_argument("--buffer-messages", type=int, default=BufferBound().max_messages,
                          help="most messages held before they are committed")
    recorder.add_argument("--buffer-mb", type=float, default=BufferBound().max_bytes / MEGABYTE,
                          help="most megabytes of message text held before they are committed")
    recorder.add_argument("--status-seconds", type=float, default=RecorderConfig.model_fields["status_seconds"].default,
                          help="seconds between status lines (printed only on a terminal)")
    recorder.set_defaults(handler=run_record)


def recorder_config(args: argparse.Namespace) -> RecorderConfig:
    symbols = tuple(part.strip() for part in args.symbols.split(",") if part.strip())
    if not symbols:
        raise UserError("no symbol given: expected a comma-separated list such as BTCUSDT,ETHUSDT")
    try:
        buffer = BufferBound(max_messages=args.buffer_messages, max_bytes=int(args.buffer_mb * MEGABYTE))
        return RecorderConfig(
            market=args.market,
            symbols=symbols,
            url=args.url,
            stall_seconds=args.stall_seconds,
            connect_attempts=args.connect_attempts,
            status_seconds=args.status_seconds,
            buffer=buffer,
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = "-".join(str(part) for part in first["loc"] if not isinstance(part, int)).replace("_", "-")
        message = first["msg"].removeprefix("Value error, ")
        raise UserError(f"invalid --{where}: {message}") from None


def run_record(args: argparse.Namespace) -> int:
    config = recorder_config(args)
    target = resolve_target()
    with connect(target, autocommit=True) as conn:
        migrate(conn)
        try:
            summary = record(conn, config)
        except InstrumentBusy as busy:
            sys.stderr.write(f"sniper: error: {busy}\n")
            return EXIT_ALREADY_RUNNING
        except WriterFailed as failed:
            if not _is_lost(failed.error):
                raise failed.error from None  # a bug, not the user's: exit 1 with a crash log
            raise UserError(
                f"{lost_server_error(failed.error, target)}; {failed.waiting:,} received messages were not "
                "written (the open spans end at their last committed batch: the next start closes them "
                "as 'process died')"
            ) from None
    print(
        f"recorded {summary.messages:,} messages over {summary.connections} connection(s): "
        f"{summary.rows:,} rows written, {summary.rejected:,} rejected; stopped by {summary.stop_reason}"
    )
    return 0


def _is_lost(error: BaseException) -> bool:
    return isinstance(error, psycopg.OperationalError) and is_lost_server(error)
