"""``sniper report [--run RUN_ID] [--out PATH]``: a self-contained HTML report of a training run."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sniper.db.connection import connect
from sniper.db.migrate import migrate
from sniper.errors import UserError
from sniper.settings import get_settings


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("report", help="write the HTML report of the latest (or a given) training run")
    parser.add_argument("--run", metavar="RUN_ID", help="the run to report (default: the newest)")
    parser.add_argument("--out", metavar="PATH", help="output file (default: reports/report-<run_id>.html)")
    parser.set_defaults(handler=run)


def default_path(run_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", run_id)
    return get_settings().project_dir / "reports" / f"report-{safe}.html"


def write_report(run_id: str | None, out: Path | None = None) -> Path:
    """Render the run's report (the newest run when run_id is None) and write it; returns its path."""
    # pandas and matplotlib load here, not when any other sniper command starts.
    from sniper.report.data import load_report_data
    from sniper.report.page import render

    with connect() as conn:
        migrate(conn)
        data = load_report_data(conn, run_id)
    out = out or default_path(data.run.run_id)
    page = render(data)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot write the report to {out}: {error.strerror or error}") from None
    return out.resolve()


def run(args: argparse.Namespace) -> int:
    print(write_report(args.run, Path(args.out) if args.out else None))
    return 0
