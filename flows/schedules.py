"""The project's schedules, in UTC, declared once and served by ``python -m sniper.flows.serve``.

- nightly-backfill: every day at 03:00 UTC, one window per symbol; it waits up to 5 minutes
  for a live cycle holding the lock.
- weekly-retrain: Sundays at 00:00 UTC, on the rolling last 3 months; the new run is deployed
  as paper for its instruments.
- live-materialize: every 5 minutes, the buckets closed since the last cycle (and late ones),
  then scoring, in the same run (flows/live_materialize.py calls flows/live_score.py).
- live-score: every 5 minutes, 2 minutes after each cycle: scores what a cycle left unscored
  (a model deployed in between, a cycle whose scoring failed). Scoring twice is a no-op.
"""

from __future__ import annotations

from prefect.schedules import Cron

from sniper.flows.backfill import backfill
from sniper.flows.live_materialize import live_materialize
from sniper.flows.live_score import live_score
from sniper.flows.train import train

NIGHTLY_BACKFILL_CRON = "0 3 * * *"
WEEKLY_RETRAIN_CRON = "0 0 * * 0"  # Sunday 00:00
LIVE_MATERIALIZE_CRON = "*/5 * * * *"
LIVE_SCORE_CRON = "2-59/5 * * * *"
# A live cycle holds the lock for seconds: the nightly run waits for it rather than failing.
BACKFILL_LOCK_WAIT_SECONDS = 300


def deployments() -> list:
    """The deployments `serve` runs; also what the tests inspect."""
    return [
        backfill.to_deployment(
            name="nightly-backfill",
            schedules=[Cron(NIGHTLY_BACKFILL_CRON, timezone="UTC")],
            parameters={"weeks": 1, "lock_wait_seconds": BACKFILL_LOCK_WAIT_SECONDS},
            description="One window per symbol per night, in the planner's priority order.",
        ),
        train.to_deployment(
            name="weekly-retrain",
            schedules=[Cron(WEEKLY_RETRAIN_CRON, timezone="UTC")],
            parameters={
                "data_range": "last_3_months",
                "model": "xgboost",
                "features": ["ofi", "obi", "whale_cvd", "gamma_exposure"],
                "deploy_as_paper": True,
            },
            description="Retrain on the rolling last 3 months; evaluation and verdict stored in evaluation.*; "
                        "the new model deployed as paper.",
        ),
        live_materialize.to_deployment(
            name="live-materialize",
            schedules=[Cron(LIVE_MATERIALIZE_CRON, timezone="UTC")],
            description="Every 5 minutes: the 5m buckets closed since the last cycle and any late ones "
                        "(candles, features, regimes), then scoring with the deployed models.",
        ),
        live_score.to_deployment(
            name="live-score",
            schedules=[Cron(LIVE_SCORE_CRON, timezone="UTC")],
            description="Score built buckets no deployed model has scored yet; record completed outcomes; "
                        "evaluate the forward record.",
        ),
    ]
