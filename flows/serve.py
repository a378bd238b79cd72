"""Serve the project's scheduled deployments: ``.venv/bin/python -m sniper.flows.serve``.

Runs in the foreground (systemd, tmux, a container); flows execute in this process at
their scheduled times. Point PREFECT_API_URL at a Prefect server to see them in its UI.
"""

from __future__ import annotations

from prefect import serve

from sniper.flows.schedules import deployments

if __name__ == "__main__":
    serve(*deployments())
