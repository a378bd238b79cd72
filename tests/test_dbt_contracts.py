"""Model contracts: the tables analysts and the trading engine query (candles, features,
regimes) declare every column with its type, and a change to a column fails the build.

A copy of the project in which candles_5m's SQL renames one column, and another in which the
YAML declares a column with another type, are each built against an empty warehouse: both
fail on the contract. The real project's contracts are enforced on every model of those folders.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from dbt.cli.main import dbtRunner

from sniper.warehouse import dbt_connection_env
from tests.conftest import REPO

CONTRACT_FOLDERS = ("candles", "features", "regimes")


def _project_copy(into: Path) -> Path:
    into.mkdir(parents=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(REPO / name, into / name)
    for folder in ("models", "macros", "tests/dbt"):
        shutil.copytree(REPO / folder, into / folder)
    return into


def _build_candles_5m(project: Path) -> tuple[bool, str]:
    messages: list[str] = []
    runner = dbtRunner(callbacks=[lambda event: messages.append(event.info.msg)])
    with dbt_connection_env():
        result = runner.invoke(["run", "--select", "+candles_5m", "--project-dir", str(project),
                                "--profiles-dir", str(project), "--target-path", str(project / "target"),
                                "--vars", json.dumps({"window_start": "2024-01-01", "window_days": 1})])
    return result.success, "\n".join(str(message) for message in messages)


def test_every_model_analysts_query_has_an_enforced_contract(database, tmp_path):
    with dbt_connection_env():
        assert dbtRunner().invoke(["parse", "--project-dir", str(REPO), "--profiles-dir", str(REPO),
                                   "--target-path", str(tmp_path)]).success
    nodes = json.loads((tmp_path / "manifest.json").read_text())["nodes"].values()
    models = [node for node in nodes if node["resource_type"] == "model"
              and node["original_file_path"].split("/")[1] in CONTRACT_FOLDERS]
    assert len(models) >= 25
    unenforced = [node["name"] for node in models if not node["config"]["contract"]["enforced"]]
    assert unenforced == []
    undeclared = [(node["name"], column) for node in models for column, spec in node["columns"].items()
                  if not spec.get("data_type")]
    assert undeclared == []


@pytest.mark.slow
@pytest.mark.parametrize("change", ["sql renames a column", "yaml changes a type"])
def test_a_column_change_fails_the_build(database, tmp_path, change):
    project = _project_copy(tmp_path / "project")  # as it is, it builds (every other dbt test shows it)
    if change == "sql renames a column":
        model = project / "models" / "candles" / "candles_5m.sql"
        model.write_text(model.read_text().replace("{{ candles_from_ticks('5m') }}",
                                                   "select * from ({{ candles_from_ticks('5m') }}) as candles"
                                                   " natural join (select 1 as extra_column) as extra"))
    else:
        properties = project / "models" / "candles" / "_candles__models.yml"
        text = properties.read_text()
        declared = "name: vwap\n        data_type: float8"
        assert declared in text
        properties.write_text(text.replace(declared, "name: vwap\n        data_type: text", 1))
    built, said = _build_candles_5m(project)
    assert not built
    assert "contract" in said.lower()
