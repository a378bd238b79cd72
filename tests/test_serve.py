"""`python -m sniper.flows.serve`, the long-running process beside `sniper record`: it serves the
four deployments, stops cleanly on SIGTERM (exit 0 within 10 s, no traceback) with a temporary
or a persistent Prefect server, and with a persistent server (`prefect server start`,
PREFECT_API_URL) run history outlives it: headless Chromium loads the server's UI and finds the
deployments and a finished live run there. Real processes, real signals, a real Prefect server
on 127.0.0.1, a real browser."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

PYTHON = Path(sys.executable)
PREFECT = PYTHON.with_name("prefect")
DEPLOYMENTS = ("nightly-backfill", "weekly-retrain", "live-materialize", "live-score")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
STOP_SECONDS = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.5)


class Served:
    """The serve process, in a session of its own: SIGTERM goes to its whole process group, as
    systemd's stop does (the temporary API server it started included)."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.stdout_path, self.stderr_path = log_dir / "serve.out", log_dir / "serve.err"
        self.process = subprocess.Popen(
            [str(PYTHON), "-m", "sniper.flows.serve"], cwd=REPO, env=env, start_new_session=True,
            stdout=self.stdout_path.open("w"), stderr=self.stderr_path.open("w"),
        )

    def output(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def wait_until_serving(self) -> None:
        wait_for(lambda: "serving " in self.stdout_path.read_text() or self.process.poll() is not None, 240,
                 "serve to start")
        assert self.process.poll() is None, self.output()[-3000:]

    def stop(self) -> float:
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
        return time.monotonic() - started


@pytest.fixture
def serve_env(database, tmp_path) -> dict[str, str]:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"), "SNIPER_DATA_DIR": str(tmp_path / "state")}
    env.pop("PREFECT_API_URL", None)
    return env


@pytest.fixture
def prefect_server(serve_env, tmp_path) -> Iterator[str]:
    """`prefect server start` on 127.0.0.1, its own home: the persistent server of docs/live.md."""
    port = free_port()
    env = {**serve_env, "PREFECT_HOME": str(tmp_path / "server-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api"}
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"

    def healthy() -> bool:
        try:
            return urllib.request.urlopen(f"{url}/health", timeout=2).status == 200
        except OSError:
            return server.poll() is not None

    wait_for(healthy, 240, "the Prefect server")
    assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
    yield url
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def api(url: str, path: str, body: dict | None = None):
    request = urllib.request.Request(f"{url}{path}", data=json.dumps(body or {}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    return json.loads(urllib.request.urlopen(request, timeout=30).read())


def test_serve_stops_on_sigterm_within_ten_seconds_with_a_temporary_server(serve_env, tmp_path):
    served = Served(serve_env, tmp_path)
    served.wait_until_serving()
    time.sleep(3)  # the runner's loops are up
    seconds = served.stop()
    output = served.output()
    assert served.process.returncode == 0, output[-3000:]
    assert seconds < STOP_SECONDS, (seconds, output[-3000:])
    assert "Traceback" not in output and "sniper serve: stopped (SIGTERM)" in output, output[-3000:]
    assert "a temporary Prefect server" in output


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is installed by `make test`")
def test_a_persistent_server_keeps_the_runs_and_its_ui_shows_them(serve_env, prefect_server, tmp_path):
    env = {**serve_env, "PREFECT_API_URL": prefect_server}
    served = Served(env, tmp_path)
    served.wait_until_serving()
    deployments = {d["name"]: d for d in api(prefect_server, "/deployments/filter")}
    assert set(DEPLOYMENTS) <= set(deployments)

    # A live run, through the served runner (the scheduler would do the same at */5).
    run = subprocess.run([str(PREFECT), "deployment", "run", "live-score/live-score"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]

    def finished() -> bool:
        runs = api(prefect_server, "/flow_runs/filter",
                   {"deployments": {"id": {"any_": [deployments["live-score"]["id"]]}}})
        return any(r["state_type"] in ("COMPLETED", "FAILED", "CRASHED") for r in runs)

    wait_for(finished, 300, "the live-score run to finish")
    (flow_run,) = api(prefect_server, "/flow_runs/filter",
                      {"deployments": {"id": {"any_": [deployments["live-score"]["id"]]}}})
    assert flow_run["state_type"] == "COMPLETED", flow_run["state"]
    seconds = served.stop()
    output = served.output()
    assert served.process.returncode == 0 and seconds < STOP_SECONDS, (seconds, output[-3000:])
    assert "Traceback" not in output and "the Prefect server at PREFECT_API_URL" in output

    # The history outlives the served process; the UI lists the deployments and the run.
    ui = prefect_server.removesuffix("/api")
    def dump(page: str, *expected: str) -> str:
        """The page's DOM once it shows every expected text: the UI fills it from API calls,
        which a busy host may answer after the virtual time budget; a user would reload."""
        for _ in range(3):
            dumped = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}",
                                     "--virtual-time-budget=20000", "--dump-dom", f"{ui}/{page}"],
                                    capture_output=True, text=True, timeout=180).stdout
            if all(text in dumped for text in expected):
                break
        return dumped

    # Still Completed after the served process stopped (Prefect's runner cancels every run whose
    # process it still tracks at shutdown, also one that has just completed: serve waits for them).
    (after_stop,) = api(prefect_server, "/flow_runs/filter",
                        {"deployments": {"id": {"any_": [deployments["live-score"]["id"]]}}})
    assert after_stop["state_type"] == "COMPLETED", after_stop["state"]
    deployments_page = dump("deployments", *DEPLOYMENTS)
    assert all(name in deployments_page for name in DEPLOYMENTS), deployments_page[-2000:]
    run_page = dump(f"flow-runs/flow-run/{flow_run['id']}", flow_run["name"], "Completed")
    assert flow_run["name"] in run_page and "Completed" in run_page, run_page[-2000:]
    screenshot = tmp_path / "deployments.png"
    subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}",
                    "--virtual-time-budget=20000", "--window-size=1400,900", f"--screenshot={screenshot}",
                    f"{ui}/deployments"], capture_output=True, timeout=180)
    assert screenshot.stat().st_size > 10_000
