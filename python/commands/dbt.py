"""``sniper dbt ARGS...``: dbt against the database sniper resolved (no second configuration)."""

from __future__ import annotations

import argparse

from sniper.warehouse import invoke_dbt


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser(
        "dbt", help="run a dbt command against the project database", add_help=False
    )
    parser.add_argument("dbt_args", nargs=argparse.REMAINDER)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    result = invoke_dbt(args.dbt_args or ["--help"])
    return 0 if result.success else 1
