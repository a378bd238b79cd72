"""``sniper retention apply``: delete old buckets by an explicit policy, and say what went.

No build deletes anything; this command is the only way rows leave the candle and
feature tables (macros/retention.sql). The policy is given on the command line,
`--keep 5m="4 weeks" --keep 15m="4 weeks"`, or as the var `retention` in --vars; each
entry applies to every layer of that timeframe alike. Schedule it (cron, a Prefect
deployment) if you want a standing policy.
"""

from __future__ import annotations

import argparse
import json
import uuid

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from sniper.db.connection import connect
from sniper.db.migrate import migrate
from sniper.dbt_vars import ProjectVars
from sniper.errors import UserError
from sniper.warehouse import invoke_dbt

console = Console()


def register(nouns: argparse._SubParsersAction) -> None:
    retention = nouns.add_parser("retention", help="delete buckets older than an explicit policy")
    verbs = retention.add_subparsers(dest="verb", required=True, parser_class=type(retention))
    apply = verbs.add_parser("apply", help="apply a retention policy to every layer of each timeframe")
    apply.add_argument(
        "--keep", action="append", default=[], metavar="TIMEFRAME=PERIOD",
        help="e.g. 5m='4 weeks' (repeatable; PERIOD is N days|weeks|months behind each symbol's newest 5m bucket)",
    )
    apply.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
    apply.set_defaults(handler=run_apply)


def policy_from_args(keep: list[str]) -> ProjectVars:
    entries: dict[str, str] = {}
    for item in keep:
        timeframe, sep, period = item.partition("=")
        if not sep:
            raise UserError(f"--keep {item!r}: expected TIMEFRAME=PERIOD, e.g. 5m='4 weeks'")
        entries[timeframe.strip()] = period.strip()
    defaults = ProjectVars().retention
    try:
        return ProjectVars(retention={**defaults, **entries})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "policy"
        raise UserError(f"invalid --keep {where}: {first['msg']}") from None


def run_apply(args: argparse.Namespace) -> int:
    policy = policy_from_args(args.keep)
    with connect() as conn:
        migrate(conn)
        conn.commit()
    run_id = uuid.uuid4()
    operation_args = json.dumps({"run_id": str(run_id), "dry_run": args.dry_run})
    result = invoke_dbt(["run-operation", "apply_retention", "--args", operation_args], policy.overrides())
    if not result.success:
        raise UserError("retention failed; nothing was deleted (dbt's message is above)")
    if args.dry_run:
        console.print("dry run: nothing was deleted")
        return 0
    with connect() as conn:
        rows = conn.execute(
            "select model, exchange || ':' || market || ':' || symbol, kept, cutoff_at, deleted_rows"
            " from ops.retention_runs where run_id = %s order by model, exchange, market, symbol",
            (run_id,),
        ).fetchall()
    table = Table("model", "instrument", "keeps", "deleted buckets ending by", "rows deleted",
                  title=f"retention run {run_id}")
    for model, instrument, kept, cutoff_at, deleted in rows:
        table.add_row(model, instrument, kept, f"{cutoff_at:%Y-%m-%d %H:%M}", f"{deleted:,}")
    console.print(table if rows else "the policy keeps everything: nothing deleted")
    return 0
