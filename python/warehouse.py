"""Running dbt against the resolved database, in-process (no shell strings)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sniper.db.connection import DatabaseTarget, dbt_environment, ensure_database, resolve_target
from sniper.settings import get_settings


def project_args() -> list[str]:
    project_dir = str(get_settings().project_dir)
    return ["--project-dir", project_dir, "--profiles-dir", project_dir]


def vars_args(dbt_vars: Mapping[str, Any] | None) -> list[str]:
    return ["--vars", json.dumps(dict(dbt_vars), default=str)] if dbt_vars else []


@contextmanager
def dbt_connection_env(target: DatabaseTarget | None = None):
    """Export the SNIPER_PG* variables profiles.yml reads, for the duration of a dbt call."""
    target = target or resolve_target()
    ensure_database(target)
    previous = {key: os.environ.get(key) for key in dbt_environment(target)}
    os.environ.update(dbt_environment(target))
    try:
        yield target
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def invoke_dbt(args: Sequence[str], dbt_vars: Mapping[str, Any] | None = None):
    """Run one dbt command in this process; returns dbt's ``dbtRunnerResult``."""
    from dbt.cli.main import dbtRunner

    with dbt_connection_env():
        return dbtRunner().invoke([*args, *project_args(), *vars_args(dbt_vars)])
