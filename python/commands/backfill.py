"""``sniper backfill plan|run``: what the nightly backfill will do next, and doing it once."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

from sniper.backfill.planner import is_built, plan
from sniper.commands.instrument_args import add_instrument_arguments, chosen_instruments, requested_filters
from sniper.db.connection import connect
from sniper.db.migrate import migrate
from sniper.prefect_env import quiet_prefect
from sniper.validation import parse_date

console = Console()
# A second run while one is active is not a mistake: tell the scheduler to try later.
EXIT_ALREADY_RUNNING = 75


def register(nouns: argparse._SubParsersAction) -> None:
    backfill = nouns.add_parser("backfill", help="plan and run the incremental backfill")
    verbs = backfill.add_subparsers(dest="verb", required=True, parser_class=type(backfill))
    for name, handler, help_text in (
        ("plan", show_plan, "the next windows to materialize, and why"),
        ("run", run_once, "run the backfill flow once"),
    ):
        verb = verbs.add_parser(name, help=help_text)
        add_instrument_arguments(verb, symbols_help="comma-separated; default: every symbol with loaded data")
        verb.add_argument("--weeks", type=int, default=1, help="windows per instrument (default 1)")
        verb.add_argument("--window-days", type=int, default=7, choices=range(1, 93), metavar="DAYS")
        verb.set_defaults(handler=handler)
        if name == "run":
            verb.add_argument("--sleep", type=float, default=0.5, help="seconds between windows")
            verb.add_argument("--force-recompute", action="store_true", help="replace the window's buckets")
            verb.add_argument("--window-start", help="materialize this window (YYYY-MM-DD) instead of the plan")
            verb.add_argument("--min-available-memory-mb", type=int, default=1500,
                              help="below this, windows shrink to 3 days")


def show_plan(args: argparse.Namespace) -> int:
    filters = requested_filters(args)
    with connect() as conn:
        migrate(conn)
        conn.commit()
        if not is_built(conn):
            console.print("nothing planned yet: the warehouse has never been built; `sniper backfill run` builds it,"
                          " then materializes the planned windows")
            return 0
        instruments = chosen_instruments(conn, filters)
        windows = plan(conn, instruments, windows_per_instrument=max(1, args.weeks), window_days=args.window_days)
    if not windows:
        console.print("nothing to plan: every loaded day is materialized")
        return 0
    table = Table("instrument", "window", "days", "why")
    for window in windows:
        table.add_row(window.instrument.key, f"{window.start} .. {window.end}", str(window.days), window.reason)
    console.print(table)
    return 0


def run_once(args: argparse.Namespace) -> int:
    if args.weeks < 1:
        from sniper.errors import UserError

        raise UserError("--weeks must be at least 1")
    window_start = parse_date(args.window_start, name="--window-start") if args.window_start is not None else None
    filters = requested_filters(args)
    with connect() as conn:
        migrate(conn)
        conn.commit()
        instruments = chosen_instruments(conn, filters)
    from sniper.backfill.ledger import BackfillAlreadyRunning, backfill_lock

    try:
        # Taken before Prefect starts and held until the flow ends: a second run started
        # meanwhile exits at once (the flow, in this process, finds the lock held).
        with backfill_lock():
            quiet_prefect()
            from sniper.flows.backfill import backfill

            results = backfill(
                weeks=args.weeks,
                instruments=[instrument.key for instrument in instruments],
                window_days=args.window_days,
                sleep_seconds=args.sleep,
                force_recompute=args.force_recompute,
                window_start=window_start,
                min_available_memory_mb=args.min_available_memory_mb,
            )
    except BackfillAlreadyRunning as error:
        sys.stderr.write(f"sniper: {error}\n")
        return EXIT_ALREADY_RUNNING
    if not results:
        console.print("nothing to do: every loaded day is materialized")
    for result in results:
        console.print(
            f"{result.instrument} {result.window_start} +{result.window_days}d: "
            f"{result.rows_written:,} rows in {result.seconds:.1f} s ({result.reason})"
        )
    return 0
