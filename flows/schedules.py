"""The project's schedules, in UTC, declared once and served by ``python -m sniper.flows.serve``.

- nightly-backfill: every day at 03:00 UTC, one window per symbol.
"""

from __future__ import annotations

from prefect.schedules import Cron

from sniper.flows.backfill import backfill

NIGHTLY_BACKFILL_CRON = "0 3 * * *"


def deployments() -> list:
    """The deployments `serve` runs; also what the tests inspect."""
    return [
        backfill.to_deployment(
            name="nightly-backfill",
            schedules=[Cron(NIGHTLY_BACKFILL_CRON, timezone="UTC")],
            parameters={"weeks": 1},
            description="One window per symbol per night, in the planner's priority order.",
        ),
    ]
