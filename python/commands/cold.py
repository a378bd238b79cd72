"""``sniper cold move|restore|status``: raw weeks past the horizon to Parquet files and back.

`move` sends every materialized and verified instrument-week older than the horizon to the
cold store and drops its rows from PostgreSQL; `restore --week` brings a week back (a backfill
over a cold week does so by itself); `status` shows hot and cold sizes. Moves and restores take
the backfill's lock: one of them, or a backfill, at a time. See docs/cold.md.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict

from pydantic import ValidationError
from rich import box
from rich.console import Console
from rich.table import Table

from sniper.cold.config import ColdConfig
from sniper.cold.kinds import COLD_KINDS, week_start
from sniper.cold.ledger import ledger_rows
from sniper.cold.sizes import TierSize, tier_sizes
from sniper.commands.instrument_args import add_instrument_arguments, chosen_instruments, requested_filters
from sniper.db.connection import connect
from sniper.db.migrate import migrate
from sniper.errors import UserError
from sniper.validation import parse_date

console = Console()
EXIT_ALREADY_RUNNING = 75
MB = 2**20


def register(nouns: argparse._SubParsersAction) -> None:
    cold = nouns.add_parser("cold", help="move old raw weeks to Parquet files (the cold tier) and back")
    verbs = cold.add_subparsers(dest="verb", required=True, parser_class=type(cold))
    move = verbs.add_parser("move", help="move materialized, verified weeks past the horizon to the cold store")
    add_instrument_arguments(move, symbols_help="comma-separated; default: every symbol with loaded data")
    move.add_argument("--horizon-weeks", type=int,
                      help="keep this many newest weeks hot (default: SNIPER_COLD_HORIZON_WEEKS or 8)")
    move.add_argument("--dry-run", action="store_true", help="say what would move and what is held back, move nothing")
    move.set_defaults(handler=run_move)
    restore = verbs.add_parser("restore", help="copy a cold week back into PostgreSQL")
    add_instrument_arguments(restore, symbols_help="comma-separated; default: every instrument cold that week")
    restore.add_argument("--week", required=True, help="any day of the week (YYYY-MM-DD); weeks start on Monday")
    restore.set_defaults(handler=run_restore)
    status = verbs.add_parser("status", help="hot and cold sizes, and the cold weeks per instrument")
    status.set_defaults(handler=run_status)


def cold_config(horizon_weeks: int | None = None) -> ColdConfig:
    try:
        return ColdConfig(**({"horizon_weeks": horizon_weeks} if horizon_weeks is not None else {}))
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]).replace("_", "-") if first["loc"] else "setting"
        raise UserError(f"invalid cold tier {name}: {first['msg']}") from None


def _locked(action):
    """Run ``action`` holding the backfill's lock; exit 75 when a backfill or another move holds it."""
    from sniper.backfill.ledger import BackfillAlreadyRunning, backfill_lock

    try:
        with backfill_lock():
            return action()
    except BackfillAlreadyRunning:
        sys.stderr.write("sniper: a backfill or another cold move or restore is running (advisory lock 7300010);"
                         " try again later\n")
        return EXIT_ALREADY_RUNNING


def run_move(args: argparse.Namespace) -> int:
    from sniper.cold.move import move_cold
    from sniper.cold.sizes import hot_bytes

    config = cold_config(args.horizon_weeks)
    filters = requested_filters(args)
    with connect() as conn:
        migrate(conn)
        conn.commit()
        instruments = chosen_instruments(conn, filters)

    def move() -> int:
        with connect(autocommit=True) as conn:
            before = sum(hot_bytes(conn, f"raw.{kind}") for kind in COLD_KINDS)
            result = move_cold(conn, config, instruments, dry_run=args.dry_run)
            after = sum(hot_bytes(conn, f"raw.{kind}") for kind in COLD_KINDS)
        _print_move(result, args.dry_run, before - after)
        return 0

    return _locked(move)


def _print_move(result, dry_run: bool, freed_bytes: int) -> None:
    console.print(f"cold store: {result.store_url}; horizon: the newest {result.horizon_weeks} weeks stay hot")
    if result.blocked:
        table = Table("instrument", "week", "raw tables", "held back because", title="past the horizon, kept hot")
        for item in result.blocked:
            table.add_row(item.instrument.key, f"{item.week}", ", ".join(item.kinds), item.blocked_by)
        console.print(table)
    if not result.planned:
        console.print("nothing to move: no materialized, verified week past the horizon is still in PostgreSQL")
        return
    if dry_run:
        table = Table("week", "raw table", "instruments", "rows", "would", title="dry run: nothing moved")
        for step in result.planned:
            how = "drop the week partition" if step.dropped_by == "drop_partition" else "delete their rows"
            table.add_row(f"{step.week}", step.kind, ", ".join(step.instruments), f"{step.rows:,}", how)
        console.print(table)
        return
    table = Table("week", "raw table", "instrument", "rows", "file MB", "bytes/row", "left PostgreSQL by")
    for moved in result.moved:
        table.add_row(f"{moved.week}", moved.kind, moved.instrument, f"{moved.rows:,}", f"{moved.file_bytes / MB:.2f}",
                      f"{moved.file_bytes / moved.rows:.1f}", moved.dropped_by.replace("_", " "))
    console.print(table)
    rows = sum(m.rows for m in result.moved)
    size = sum(m.file_bytes for m in result.moved)
    vacuumed = f"; vacuumed {', '.join(result.vacuumed)}" if result.vacuumed else ""
    console.print(f"moved {len(result.moved)} files: {rows:,} rows in {size / MB:.1f} MB of Parquet; "
                  f"PostgreSQL's raw partitions are {freed_bytes / MB:.1f} MB smaller{vacuumed}")


def run_restore(args: argparse.Namespace) -> int:
    from sniper.cold.restore import restore_weeks

    week = week_start(parse_date(args.week, name="--week"))
    filters = requested_filters(args)
    with connect() as conn:
        migrate(conn)
        conn.commit()
        instruments = chosen_instruments(conn, filters)

    def restore() -> int:
        with connect(autocommit=True) as conn:
            restored = restore_weeks(conn, instruments, [week], reason="sniper cold restore")
        if not restored:
            console.print(f"nothing to restore: no file of the week of {week} is cold for "
                          f"{', '.join(i.key for i in instruments) or 'any instrument'}")
            return 0
        table = Table("instrument", "raw table", "week", "rows restored", title=f"restored the week of {week}")
        for item in restored:
            table.add_row(item.instrument, item.kind, f"{item.week}", f"{item.rows:,}")
        console.print(table)
        console.print("the next `sniper cold move` sends these rows back to the cold store (the file is kept)")
        return 0

    return _locked(restore)


def tier_table(sizes: list[TierSize]) -> Table:
    """Hot and cold sizes per raw table (also shown by `sniper status`)."""
    table = Table(title="raw ticks: hot (PostgreSQL) and cold (Parquet files)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for index, column in enumerate(("raw table", "hot rows", "hot MB", "hot B/row", "cold files", "cold rows",
                                    "cold MB", "cold B/row")):
        table.add_column(column, no_wrap=True, justify="left" if index == 0 else "right")
    for size in sizes:
        table.add_row(
            f"raw.{size.kind}", f"{size.hot_rows:,}", f"{size.hot_bytes / MB:.1f}", _per_row(size.hot_bytes_per_row),
            f"{size.cold_files:,}", f"{size.cold_rows:,}", f"{size.cold_bytes / MB:.1f}",
            _per_row(size.cold_bytes_per_row),
        )
    return table


def _per_row(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def hot_row_counts(conn) -> dict[str, int]:
    return {f"raw.{kind}": conn.execute(f"select count(*) from raw.{kind}").fetchone()[0]  # noqa: S608 - ours
            for kind in COLD_KINDS}


def run_status(_: argparse.Namespace) -> int:
    config = cold_config()
    with connect() as conn:
        migrate(conn)
        conn.commit()
        sizes = tier_sizes(conn, hot_row_counts(conn))
        rows = ledger_rows(conn)
    console.print(f"cold store: {config.resolved_store_url}; horizon: the newest {config.horizon_weeks} weeks stay hot")
    console.print(tier_table(sizes))
    if not rows:
        console.print("no week has gone cold yet (`sniper cold move` moves them)")
        return 0
    per_instrument: dict[tuple[str, str], list] = defaultdict(list)
    for row in rows:
        per_instrument[(row.file.instrument.key, row.file.kind)].append(row)
    table = Table("instrument", "raw table", "cold weeks", "first .. last", "rows", "MB", "restored weeks",
                  title="cold weeks per instrument", title_justify="left")
    for (instrument, kind), group in sorted(per_instrument.items()):
        cold = [row for row in group if row.status == "cold"]
        weeks = sorted(row.file.week for row in cold)
        table.add_row(instrument, kind, str(len(cold)), f"{weeks[0]} .. {weeks[-1]}" if weeks else "-",
                      f"{sum(r.file.manifest.row_count for r in cold):,}",
                      f"{sum(r.file.manifest.file_bytes for r in cold) / MB:.1f}",
                      str(len(group) - len(cold)))
    console.print(table)
    return 0
