"""``sniper deploy --run ID [--live]``: deploy a training run's model for its instruments.

Without ``--live`` the run becomes the instruments' paper model (scored and tracked forward,
not traded). ``--live`` makes it their live model, and only a run whose verdict was READY FOR
LIVE TRADING may be. A run that does not exist, lost its model files, chose no threshold, or
whose feature columns ml.training_dataset no longer produces is refused: one line, exit 2,
nothing written (python/live/deployments.py).
"""

from __future__ import annotations

import argparse

from rich.console import Console

from sniper.db.connection import connect
from sniper.db.migrate import migrate
from sniper.live.deployments import deploy

console = Console()


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("deploy", help="deploy a training run's model as paper (default) or live")
    parser.add_argument("--run", required=True, metavar="RUN_ID", help="the training run (evaluation.model_runs)")
    parser.add_argument("--live", action="store_true",
                        help="make it the live model (its verdict must be READY FOR LIVE TRADING)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    status = "live" if args.live else "paper"
    with connect() as conn:
        migrate(conn)
        conn.commit()
        deployments = deploy(conn, args.run, status)
    for deployment in deployments:
        console.print(f"{deployment.instrument.key}: run {deployment.run_id} deployed as {deployment.status}"
                      f" from {deployment.deployed_at:%Y-%m-%d %H:%M:%S} UTC")
    return 0
