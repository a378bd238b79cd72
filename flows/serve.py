"""Serve the project's scheduled deployments: ``.venv/bin/python -m sniper.flows.serve``.

Runs in the foreground (systemd, tmux, a container); flow runs execute in child processes at
their scheduled times. With PREFECT_API_URL pointing at a persistent Prefect server
(``prefect server start``), run history outlives this process and the server's UI shows it;
without it, Prefect starts a temporary API server that lives and dies with this process.

SIGTERM or SIGINT stops it in order, within seconds: the runner stops polling and cancels the
flow runs in progress (a live cycle cut short is rebuilt by the next one: its watermark was
not written), then the temporary server, if any, is stopped, and one line is printed. Prefect's
own ``serve`` handles SIGTERM by calling ``Runner.stop`` from the signal handler, inside the
event loop, which only creates the coroutine it should await and exits; the runner then tried
to pause its schedules on a temporary server that had received the same signal, and retried
for over a minute before ending in a traceback. Here the runner is stopped from the loop, and
schedules are not paused (a temporary server goes away with them; see main for a persistent one).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from sniper.prefect_env import QUIET_PREFECT

# Time for flow-run processes to exit by themselves before the runner cancels what is left.
EXIT_GRACE_SECONDS = 4.0
# Time for the runner to cancel the flow runs in progress and leave its loops.
STOP_TIMEOUT_SECONDS = 4.0
# Time for the last run logs and events to reach the API before the temporary server stops.
DRAIN_SECONDS = 2.0


def persistent_server() -> bool:
    """Whether a Prefect server outlives this process (PREFECT_API_URL is set)."""
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


async def _serve_until_signalled(runner) -> str:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    received: list[str] = []

    def on_signal(signum: int, *_: object) -> None:
        received.append(signal.Signals(signum).name)
        loop.call_soon_threadsafe(stopping.set)

    # Runner.start installs its own SIGTERM handler (handle_sigterm) when it starts: this one.
    runner.handle_sigterm = lambda *args: on_signal(signal.SIGTERM)
    loop.add_signal_handler(signal.SIGINT, on_signal, signal.SIGINT)
    serving = asyncio.create_task(runner.start())
    waiting = asyncio.create_task(stopping.wait())
    done, _ = await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if serving in done:  # the runner ended by itself: its error is the process's
        waiting.cancel()
        serving.result()
        return "runner stopped"
    # Prefect's Runner.astop cancels every flow run whose process it still tracks, also one
    # that has already completed and whose process is only exiting: that run would end
    # Cancelled ("Runner is shutting down."). Stop taking new runs, then give such processes
    # a moment to exit first; a run still going after it is cancelled, as it should be.
    poller = getattr(runner, "_scheduled_run_poller", None)
    if poller is not None:
        poller.stopping = True
    processes = runner._process_manager  # noqa: SLF001 (what cancel_all reads; no public view)
    deadline = loop.time() + EXIT_GRACE_SECONDS
    while processes.flow_run_ids() and loop.time() < deadline:
        await asyncio.sleep(0.2)
    try:
        await asyncio.wait_for(runner.astop(), STOP_TIMEOUT_SECONDS)
        await asyncio.wait_for(serving, STOP_TIMEOUT_SECONDS)
    except (asyncio.TimeoutError, asyncio.CancelledError):
        serving.cancel()
    return received[0] if received else "stopped"


def stop_prefect(drain_seconds: float) -> None:
    """Give the last logs and events ``drain_seconds`` to reach the API, then stop a temporary
    server. Prefect's drain does not keep to its timeout against a persistent server (20 s
    measured): it runs in a thread that is left behind when the time is up."""
    import threading

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    def drain() -> None:
        for worker in (APILogWorker, EventsWorker):
            try:
                worker.drain_all(timeout=drain_seconds)
            except Exception:  # noqa: BLE001 - best effort at exit
                pass

    draining = threading.Thread(target=drain, name="drain-prefect", daemon=True)
    draining.start()
    draining.join(drain_seconds)
    # A temporary server exists only if its module was loaded (importing it costs seconds).
    server_module = sys.modules.get("prefect.server.api.server")
    for server in list(server_module.SubprocessASGIServer._instances.values()) if server_module else []:
        server.stop()


def main() -> int:
    # The CLI's settings for a temporary server (its start-up timeout on a busy host); the
    # console keeps Prefect's INFO lines: this is the process an operator watches.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
                          QUIET_PREFECT["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])
    for key in ("PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK"):
        os.environ.setdefault(key, QUIET_PREFECT[key])
    from prefect.runner import Runner

    from sniper.flows.schedules import deployments

    persistent = persistent_server()
    # Schedules stay active when it stops: pausing four deployments took the API 10 to 15 s on
    # a busy host. Runs due while it is down show as Late in the UI, and the next start runs them
    # (a live cycle finds nothing due but the catch-up the first one already built).
    runner = Runner(pause_on_shutdown=False)
    served = deployments()
    for deployment in served:
        runner.add_deployment(deployment)
    where = "the Prefect server at PREFECT_API_URL" if persistent else "a temporary Prefect server (no history kept)"
    print(f"serving {', '.join(d.name for d in served)} on {where}; stop with SIGTERM or Ctrl-C", flush=True)
    reason = asyncio.run(_serve_until_signalled(runner))
    stop_prefect(DRAIN_SECONDS)
    print(f"sniper serve: stopped ({reason})", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # As the CLI does (python/cli.py): Prefect is shut down; the interpreter's atexit phase
    # would only wait on its background threads again.
    os._exit(code)
