"""Prefect settings for flows started from the CLI: quiet, and no telemetry (there is no internet)."""

from __future__ import annotations

import logging
import os

QUIET_PREFECT = {
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}


def quiet_prefect() -> None:
    """Call before importing a flow; explicit settings in the environment win."""
    for key, value in QUIET_PREFECT.items():
        os.environ.setdefault(key, value)
    logging.getLogger("prefect").setLevel(logging.WARNING)
