"""``sniper db start|stop|status|url|migrate``: the database the project uses."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from sniper.db.connection import connect, database_errors, resolve_target
from sniper.db.migrate import migrate
from sniper.db.status import raw_row_counts, server_version

console = Console()


def register(nouns: argparse._SubParsersAction) -> None:
    db = nouns.add_parser("db", help="start, stop and inspect the database")
    verbs = db.add_subparsers(dest="verb", required=True, parser_class=type(db))
    verbs.add_parser(
        "start", help="start the embedded cluster (again, after `db stop`) and apply migrations"
    ).set_defaults(handler=start)
    verbs.add_parser(
        "stop", help="stop the embedded cluster; nothing starts it again until `db start`"
    ).set_defaults(handler=stop)
    verbs.add_parser("status", help="which database, and rows per raw table").set_defaults(
        handler=status
    )
    verbs.add_parser("url", help="print the connection (password masked)").set_defaults(handler=url)
    verbs.add_parser("migrate", help="create or update the raw schema").set_defaults(
        handler=run_migrations
    )


@database_errors()
def start(_: argparse.Namespace) -> int:
    target = resolve_target()
    if target.embedded is not None:
        target.embedded.start()  # the user's own start: lifts a `sniper db stop`
    with connect(target) as conn:
        applied = migrate(conn)
    where = f"embedded cluster in {target.embedded.pgdata}" if target.embedded else "external server"
    console.print(f"database ready: {where} ({target.display})")
    if applied:
        console.print(f"applied migrations: {', '.join(applied)}")
    return 0


def stop(_: argparse.Namespace) -> int:
    target = resolve_target()
    if target.embedded is None:
        console.print("SNIPER_DATABASE_URL points at an external server: nothing to stop")
        return 0
    target.embedded.stop_by_user()
    console.print(f"embedded cluster stopped ({target.embedded.pgdata}); `sniper db start` starts it again")
    return 0


def url(_: argparse.Namespace) -> int:
    print(resolve_target().display)
    return 0


@database_errors()
def run_migrations(_: argparse.Namespace) -> int:
    with connect() as conn:
        applied = migrate(conn)
    console.print(f"applied: {', '.join(applied)}" if applied else "raw schema is up to date")
    return 0


@database_errors()
def status(_: argparse.Namespace) -> int:
    target = resolve_target()
    if target.embedded is not None and not target.embedded.is_running():
        stop = target.embedded.user_stop()
        how = f"stopped with `sniper db stop` by {stop.by} at {stop.at}" if stop else "stopped"
        console.print(f"database: embedded, {how} ({target.embedded.pgdata}); `sniper db start` starts it")
        return 0
    with connect(target) as conn:
        migrate(conn)
        version = server_version(conn)
        counts = raw_row_counts(conn)
    console.print(f"database: {target.kind}, {version}, {target.display}")
    table = Table("raw table", "rows", "first ts", "last ts")
    for row in counts:
        table.add_row(row.table, f"{row.rows:,}", str(row.first_ts or "-"), str(row.last_ts or "-"))
    console.print(table)
    return 0
