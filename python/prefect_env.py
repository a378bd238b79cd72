"""Prefect settings for flows started from the CLI: quiet, and no telemetry (there is no internet)."""

from __future__ import annotations

import logging
import os

QUIET_PREFECT = {
    "PREFECT_LOGGING_LEVEL": "WARNING",
    # A command prints its own progress and, on failure, one line (python/cli.py); Prefect's
    # console output (a traceback per failed task and flow) would bury it. The records still
    # reach the API (and a persistent server's UI); `python -m sniper.flows.serve` keeps its
    # console. The temporary API server logs its shutdown ("Error flushing events ...
    # CancelledError") as errors: its logger is quieted too.
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_HANDLERS_DEBUG_LEVEL": "CRITICAL",
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    # The temporary API server needs ~6 s on an idle 2-core host, far more on a busy one;
    # Prefect's default of 20 s made nightly runs fail under load.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
}


def quiet_prefect() -> None:
    """Call before importing a flow; explicit settings in the environment win."""
    for key, value in QUIET_PREFECT.items():
        os.environ.setdefault(key, value)
    logging.getLogger("prefect").setLevel(logging.WARNING)


def start_temporary_server() -> None:
    """Start now the temporary API server the first flow of this process would start.

    Prefect's own server object (one per process): the flow's client finds it running and
    uses it. Its start is 10-20 s of imports and a subprocess on this host; a command with
    other work first (the demo's market) overlaps the two. Nothing when an API URL is set
    (a persistent server) or temporary servers are disabled; a failure here is left for the
    flow's own start to report.
    """
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        return
    from prefect.server.api.server import SubprocessASGIServer

    try:
        SubprocessASGIServer().start()
    except Exception:  # noqa: BLE001 - the flow's client starts it again and says what failed
        pass


def shutdown_prefect(timeout: float = 10.0) -> None:
    """Finish Prefect's background work and stop its temporary API server, before exit.

    Left to the interpreter's own shutdown, prefect-dbt's node tasks can still be emitting
    events while atexit runs, which aborts the process (SIGABRT) before the temporary server
    is stopped, leaving an orphan uvicorn. Called at the end of every command that ran a
    flow, and at the end of the test session.
    """
    import sys

    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.server.api.server import SubprocessASGIServer

    for worker in (EventsWorker, APILogWorker):
        try:
            worker.drain_all(timeout=timeout)
        except Exception:  # noqa: BLE001 - best effort at exit; the server still gets stopped
            pass
    for server in list(SubprocessASGIServer._instances.values()):
        server.stop()
