"""sniper: the one entry point, `sniper <noun> <verb>`. User mistakes exit 2 with one line."""

from __future__ import annotations

import argparse
import os
import sys

from sniper.commands import COMMAND_MODULES
from sniper.errors import UserError

USAGE_ERROR = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(USAGE_ERROR)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="sniper", description=__doc__)
    nouns = parser.add_subparsers(dest="noun", required=True, parser_class=OneLineParser)
    for module in COMMAND_MODULES:
        module.register(nouns)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserError as error:
        sys.stderr.write(f"sniper: error: {error}\n")
        return USAGE_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("sniper: interrupted\n")
        return 130


def entry_point() -> None:
    """The console script: a command that ran a Prefect flow exits only after Prefect is
    shut down, and then without the interpreter's atexit phase (see shutdown_prefect)."""
    # Skipping atexit leaves multiprocessing's semaphores (dbt's, Prefect's) to the
    # resource tracker process, which cleans them up and would print a UserWarning about
    # each: it inherits this filter through sys.warnoptions when it is spawned.
    sys.warnoptions.append("ignore:resource_tracker:UserWarning")
    code = main()
    if "prefect" in sys.modules:
        from sniper.prefect_env import shutdown_prefect

        shutdown_prefect()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry_point()
