"""dbt properties: every macro is documented in macros/_macros.yml, argument by argument,
and every exposure in models/_exposures.yml reads models that exist. Read from the files
themselves; no database, no dbt run."""

from __future__ import annotations

import re

import yaml
from dbt.parser.schemas import is_valid_type

from tests.conftest import REPO

MACRO_PROPERTIES = REPO / "macros" / "_macros.yml"
EXPOSURES = REPO / "models" / "_exposures.yml"

COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
# {% macro name(args) %} and {% test name(args) %}; dbt names the macro of a test test_<name>.
DEFINITION = re.compile(r"\{%-?\s*(macro|test)\s+(\w+)\s*\((.*?)\)\s*-?%\}", re.DOTALL)
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
REF = re.compile(r"ref\('(\w+)'\)")
EXPOSURE_TYPES = {"dashboard", "notebook", "analysis", "ml", "application"}


def defined_macros() -> dict[str, list[str]]:
    """Macro name -> its argument names in order, from every .sql file under macros/."""
    macros: dict[str, list[str]] = {}
    for path in sorted((REPO / "macros").rglob("*.sql")):
        text = COMMENT.sub("", path.read_text())
        for kind, name, arguments in DEFINITION.findall(text):
            name = f"test_{name}" if kind == "test" else name
            assert name not in macros, f"macro {name} is defined twice ({path.relative_to(REPO)})"
            macros[name] = [part.split("=")[0].strip() for part in QUOTED.sub("''", arguments).split(",")
                            if part.strip()]
    return macros


def documented_macros() -> list[dict]:
    properties = yaml.safe_load(MACRO_PROPERTIES.read_text())
    assert properties["version"] == 2
    return properties["macros"]


def test_the_macro_definitions_are_found():
    macros = defined_macros()
    assert len(macros) >= 45, sorted(macros)
    assert macros["window_filter"] == ["relation", "time_column"]
    assert macros["test_features_within"] == ["model", "column_name", "min_value", "max_value"]
    assert macros["project_vars_schema"] == []


def test_every_macro_has_exactly_one_entry():
    defined = set(defined_macros())
    names = [entry["name"] for entry in documented_macros()]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    assert not duplicated, f"documented more than once in macros/_macros.yml: {duplicated}"
    assert not sorted(defined - set(names)), f"not documented in macros/_macros.yml: {sorted(defined - set(names))}"
    assert not sorted(set(names) - defined), f"documented but defined nowhere: {sorted(set(names) - defined)}"


def test_every_entry_describes_the_macro_and_each_argument():
    defined = defined_macros()
    problems = []
    for entry in documented_macros():
        name = entry["name"]
        if not str(entry.get("description") or "").strip():
            problems.append(f"{name}: no description")
        arguments = entry.get("arguments") or []
        documented = [argument["name"] for argument in arguments]
        if name in defined and documented != defined[name]:
            problems.append(f"{name}: arguments {documented}, the macro takes {defined[name]}")
        for argument in arguments:
            if not str(argument.get("description") or "").strip():
                problems.append(f"{name}.{argument['name']}: no description")
            if not is_valid_type(str(argument.get("type") or "")):
                problems.append(f"{name}.{argument['name']}: type {argument.get('type')!r} is not a dbt macro type")
    assert not problems, "\n".join(problems)


def test_every_exposure_reads_existing_models():
    models = {path.stem for path in (REPO / "models").rglob("*.sql")}
    exposures = yaml.safe_load(EXPOSURES.read_text())["exposures"]
    assert exposures
    problems = []
    for exposure in exposures:
        name = exposure["name"]
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            problems.append(f"{name}: not snake_case")
        if exposure.get("type") not in EXPOSURE_TYPES:
            problems.append(f"{name}: type {exposure.get('type')!r}")
        if not str(exposure.get("description") or "").strip():
            problems.append(f"{name}: no description")
        owner = exposure.get("owner") or {}
        if not (owner.get("name") or owner.get("email")):
            problems.append(f"{name}: owner needs a name or an email")
        depends_on = exposure.get("depends_on") or []
        if not depends_on:
            problems.append(f"{name}: depends on nothing")
        for dependency in depends_on:
            match = REF.fullmatch(dependency)
            if match is None:
                problems.append(f"{name}: {dependency!r} is not ref('<model>')")
            elif match.group(1) not in models:
                problems.append(f"{name}: no model {match.group(1)} in models/")
        if len(set(depends_on)) != len(depends_on):
            problems.append(f"{name}: a model listed twice")
    assert not problems, "\n".join(problems)
