"""The project's schedules, in UTC, declared once and served by ``python -m sniper.flows.serve``.

- nightly-backfill: every day at 03:00 UTC, one window per symbol.
- weekly-retrain: Sundays at 00:00 UTC, on the rolling last 3 months.
"""

from __future__ import annotations

from prefect.schedules import Cron

from sniper.flows.backfill import backfill
from sniper.flows.train import train

NIGHTLY_BACKFILL_CRON = "0 3 * * *"
WEEKLY_RETRAIN_CRON = "0 0 * * 0"  # Sunday 00:00


def deployments() -> list:
    """The deployments `serve` runs; also what the tests inspect."""
    return [
        backfill.to_deployment(
            name="nightly-backfill",
            schedules=[Cron(NIGHTLY_BACKFILL_CRON, timezone="UTC")],
            parameters={"weeks": 1},
            description="One window per symbol per night, in the planner's priority order.",
        ),
        train.to_deployment(
            name="weekly-retrain",
            schedules=[Cron(WEEKLY_RETRAIN_CRON, timezone="UTC")],
            parameters={
                "data_range": "last_3_months",
                "model": "xgboost",
                "features": ["ofi", "obi", "whale_cvd", "gamma_exposure"],
            },
            description="Retrain on the rolling last 3 months; evaluation and verdict stored in evaluation.*.",
        ),
    ]
