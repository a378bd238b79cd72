"""sniper: the one entry point, `sniper <noun> <verb>`.

Every failure is one line on stderr: a user's mistake or an unreachable database exits 2;
a run that failed for another reason (a dbt test, a bug) exits 1 and leaves its traceback
in a crash log under the state directory (secrets masked), named in that line.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path

from sniper.commands import COMMAND_MODULES
from sniper.errors import UserError

USAGE_ERROR = 2
RUN_FAILED = 1
INTERRUPTED = 130


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
        return _fail(str(error), USAGE_ERROR)
    except KeyboardInterrupt:
        sys.stderr.write("sniper: interrupted\n")
        return INTERRUPTED
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, details in a log
        lost = _lost_database(error)
        if lost is not None:
            return _fail(str(lost), USAGE_ERROR)
        return _fail(f"{_first_line(error)} (traceback in {_write_crash_log(error)})", RUN_FAILED)


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"sniper: error: {_scrubbed(message)}\n")
    return code


def _lost_database(error: BaseException) -> UserError | None:
    """A server that could not be reached or went away mid-run, anywhere in the chain."""
    import psycopg

    from sniper.db.connection import is_lost_server, lost_server_error, resolve_target

    while error is not None:
        if isinstance(error, psycopg.OperationalError) and is_lost_server(error):
            try:
                return lost_server_error(error, resolve_target())
            except UserError as unresolvable:
                return unresolvable
        error = error.__cause__ or error.__context__
    return None


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _secrets() -> list[str]:
    from sniper.db.connection import resolve_target, secrets_in
    from sniper.settings import get_settings

    try:
        return resolve_target().secrets
    except UserError:
        url = get_settings().database_url
        return secrets_in(url.get_secret_value()) if url is not None else []


def _scrubbed(text: str) -> str:
    from sniper.db.connection import scrub

    return scrub(text, _secrets())


def _write_crash_log(error: BaseException) -> Path:
    from sniper.settings import get_settings

    folder = get_settings().state_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    path = folder / f"crash-{stamp}.log"
    details = "".join(traceback.format_exception(error))
    path.write_text(f"sniper {' '.join(sys.argv[1:])}\n{_scrubbed(details)}")
    path.chmod(0o600)
    return path


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
