"""``sniper score``: score every bucket the live materialization built and no deployed model has
scored yet, record completed outcomes and evaluate the forward record (the live-score flow, once)."""

from __future__ import annotations

import argparse

from rich.console import Console

from sniper.db.connection import connect
from sniper.db.migrate import migrate
from sniper.prefect_env import quiet_prefect

console = Console()


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("score", help="score newly complete 5m buckets with the deployed models")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    with connect() as conn:  # an unreachable or stopped database is one line, before Prefect starts
        migrate(conn)
        conn.commit()
        deployed = conn.execute("select count(*) from ml.deployments").fetchone()[0]
    if not deployed:
        console.print("nothing to score: no model is deployed (`sniper deploy --run ID`)")
        return 0
    quiet_prefect()
    from sniper.flows.live_score import live_score

    result = live_score()
    for scored in result.scored:
        console.print(f"{scored.instrument} run {scored.run_id} ({scored.status}): {scored.buckets} buckets scored,"
                      f" {scored.signals} signals, {scored.unscored} without a signal")
    for summary in result.forward:
        console.print(f"forward {summary.scope} {summary.scope_key}: {summary.n_trades} trades"
                      + (f", {summary.expectation}" if summary.expectation else ""))
        for alarm in summary.alarms:
            console.print(f"ALARM  {alarm}")
    return 0
