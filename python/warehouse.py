"""Running dbt against the resolved database, in-process (no shell strings)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
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
    """Run one dbt command in this process; returns dbt's ``dbtRunnerResult``. A build, run or
    test reuses the project parsed once for the target (below); other commands parse."""
    from dbt.cli.main import dbtRunner

    command = next((arg for arg in args if not str(arg).startswith("-")), None)
    with dbt_connection_env() as target:
        manifest = None
        if command in REUSES_PARSE:
            try:
                manifest = parsed_manifest(target)
            except DbtFailed:
                manifest = None  # dbt parses again and reports what is wrong in its result
        return dbtRunner(manifest=manifest).invoke([*args, *project_args(), *vars_args(dbt_vars)])


# dbt parses the whole project again whenever --vars change (partial parsing keys on them),
# and every backfill window and live bucket has vars of its own: 5-8 s of parsing each on
# this 2-core host. Window vars only reach the models' SQL when it is compiled, never their
# configs or dependencies, so the project is parsed once per process and target, with no
# vars (dbt's partial parsing then carries the parse over between processes too), and each
# window's build reuses that manifest with its own vars.
_PARSED: dict[tuple, Any] = {}
REUSES_PARSE = frozenset({"build", "run", "test"})
PROJECT_SOURCES = ("models", "macros", "tests/dbt", "dbt_project.yml", "profiles.yml")


def _project_fingerprint(project_dir: Path) -> tuple[int, int]:
    """The number of project files and their newest change: a new parse when either moves."""
    stamps = []
    for name in PROJECT_SOURCES:
        path = project_dir / name
        files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()] if path.is_dir() else []
        stamps.extend(f.stat().st_mtime_ns for f in files)
    return len(stamps), max(stamps, default=0)


def parsed_manifest(target: DatabaseTarget):
    """The project's manifest for ``target`` (relation names carry its database), parsed once."""
    from dbt.cli.main import dbtRunner

    project_dir = Path(get_settings().project_dir)
    key = (str(project_dir), target.conninfo, _project_fingerprint(project_dir))
    if key not in _PARSED:
        result = dbtRunner().invoke(["parse", "--quiet", *project_args()])
        if not result.success:
            raise DbtFailed(f"dbt parse failed: {result.exception}")
        _PARSED.clear()  # one project and target at a time: no manifests pile up in a long process
        _PARSED[key] = result.result
    # A dbt command compiles into the manifest it is given (ephemeral models' CTEs marked
    # injected, compiled SQL with its vars): each command gets a copy of the parsed one.
    return _PARSED[key].deepcopy()


def parse_project() -> None:
    """Parse the project for the current target now, so the first build does not wait for it
    (the demo parses while its market is written: 10 s on this host from a fresh clone)."""
    with dbt_connection_env() as target:
        parsed_manifest(target)


class DbtFailed(RuntimeError):
    """A dbt command that did not succeed: the first line names the command, then one line per
    failed node."""


def invoke_dbt_parsed(args: Sequence[str]):
    """Run one dbt build, run or test (``args`` may carry ``--vars``) on the manifest parsed
    once for the current target, warnings and errors only on the console; raises DbtFailed
    naming every failed node. Returns the dbtRunnerResult. How the flows (backfill windows,
    live buckets, the training and outcome builds) run dbt: each call is one Prefect task
    of theirs; dbt's per-node results are in the run result and its log (logs/dbt.log)."""
    result = invoke_dbt([*args, "--log-level", "warn"])
    if result.success:
        return result
    command = " ".join(str(arg) for arg in args[:1])
    if result.exception is not None:
        raise DbtFailed(f"dbt {command} failed: {result.exception}")
    failures = [
        f'{node.node.resource_type.title()} {node.node.name} {node.status}ed: {" ".join(str(node.message).split())}'
        for node in getattr(result.result, "results", None) or []
        if str(node.status) in {"error", "fail"}
    ]
    # The first line names the first failure: the ledger and the CLI show one line.
    raise DbtFailed("\n".join([f"dbt {command} failed: {failures[0] if failures else 'no node result'}"
                                + (f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""), *failures[1:]]))
