"""Project vars: one typed definition (python/dbt_vars.py), checked before any value reaches SQL."""

from __future__ import annotations

import json
import re

import pytest

from sniper.dbt_vars import GENERATED_MACRO, ProjectVars, generated_macro_text
from tests.conftest import REPO, run_cli

INJECTION = "x'); drop table public.canary; select ('1"
VAR_CALL = re.compile(r"(?<![\w.])var\(")


def test_the_generated_schema_macro_is_current():
    assert (REPO / GENERATED_MACRO).read_text() == generated_macro_text(), "run: python -m sniper.dbt_vars"


def test_no_model_or_macro_reads_a_var_around_the_checks():
    readers = []
    for path in [*REPO.glob("models/**/*.sql"), *REPO.glob("macros/**/*.sql"), *REPO.glob("tests/dbt/**/*.sql")]:
        if path.name == "vars.sql":
            continue
        if VAR_CALL.search(path.read_text()):
            readers.append(str(path.relative_to(REPO)))
    assert readers == []


def _problems(cases: list[tuple[str, object]]) -> list[str | None]:
    result = run_cli("dbt", "run-operation", "var_problems", "--args", json.dumps({"cases": cases}))
    assert result.returncode == 0, result.stdout[-2000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("var problems: "))
    return json.loads(line.removeprefix("var problems: "))


def _payloads(spec: dict) -> list:
    """Values a user could pass for a var that carry a quote (or a statement) into SQL."""
    if spec.get("type") == "object":
        key, value = next(iter(spec["default"].items()))
        return [{INJECTION: value}, {key: INJECTION}]
    return [INJECTION, [INJECTION], f"1{INJECTION}", "1 -- comment", "1; select 1"]


@pytest.mark.slow
def test_every_var_rejects_quote_injection_and_accepts_its_default(database):
    schema = ProjectVars.model_json_schema()
    assert len(schema["properties"]) >= 30
    defaults = [(name, value) for name, value in ProjectVars().model_dump(mode="json").items() if value is not None]
    payloads = [(name, payload) for name, spec in schema["properties"].items() for payload in _payloads(spec)]
    problems = _problems(defaults + payloads)
    assert problems[: len(defaults)] == [None] * len(defaults)
    accepted = [case for case, problem in zip(payloads, problems[len(defaults):]) if problem is None]
    assert accepted == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("select", "dbt_vars"),
    [
        ("stg_raw__trades", {"market": "um"}),  # a var of an earlier release: unknown, refused
        ("candles_5m", {"instruments": ["binance:spot:BTCUSDT') ; drop table public.canary; select ('1"]}),
        ("trade_coverage", {"trade_load_coverage": {"trades'); drop table public.canary; select ('1": "day"}}),
    ],
)
def test_an_injected_var_fails_the_run_and_drops_nothing(database, select, dbt_vars):
    with database.connect(autocommit=True) as conn:
        conn.execute("create table public.canary (id int)")
    result = run_cli("dbt", "run", "--select", select, "--vars", json.dumps(dbt_vars))
    assert result.returncode != 0
    assert "var " in result.stdout and "Compilation Error" in result.stdout
    assert database.scalar("select to_regclass('public.canary') is not null")
