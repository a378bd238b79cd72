"""`dbt build` (every model and every data test) succeeds on a small synthetic market."""

from __future__ import annotations

import json
from datetime import date

from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from sniper.warehouse import invoke_dbt


def test_dbt_build_passes_on_a_synthetic_week(database, tmp_path):
    config = SynthConfig(symbols=["BTCUSDT", "ETHUSDT"], start=date(2024, 6, 3), months=1, days=8, trades_per_day=600)
    with database.connect(autocommit=True) as conn:
        generate(conn, config)
    result = invoke_dbt(["build"])
    failures = [
        f"{r.node.name}: {r.status} {r.message}" for r in (result.result or []) if str(r.status) not in ("success", "pass")
    ]
    assert result.success, failures or result.exception
    # The staging layer is queryable as analysts will query it.
    assert database.scalar("select count(*) from staging.stg_raw__trades") == database.scalar(
        "select count(*) from raw.trades"
    )
    _every_model_and_column_is_documented(tmp_path)


def _every_model_and_column_is_documented(target_path) -> None:
    """`dbt docs generate` works; every model carries a description that states its grain
    ("one row per ..."), and each column a model actually has (the catalog, read from the
    database) carries a description, and no model documents a column it does not have."""
    result = invoke_dbt(["docs", "generate", "--target-path", str(target_path)])
    assert result.success, result.exception
    manifest = json.loads((target_path / "manifest.json").read_text())
    catalog = json.loads((target_path / "catalog.json").read_text())["nodes"]
    models = {
        unique_id: node for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["package_name"] == "sniper"
    }
    assert len(models) > 30
    undocumented_models = [node["name"] for node in models.values() if not node["description"].strip()]
    assert undocumented_models == []
    without_grain = [node["name"] for node in models.values() if "one row per" not in node["description"].lower()]
    assert without_grain == []
    # Ephemeral models have no relation, hence no catalog entry: their YAML is checked by
    # the models they are inlined into (the columns those select are documented there).
    models = {unique_id: node for unique_id, node in models.items() if node["config"]["materialized"] != "ephemeral"}
    undocumented_columns: dict[str, list[str]] = {}
    for unique_id, node in models.items():
        for column in catalog[unique_id]["columns"]:
            if not node["columns"].get(column, {}).get("description", "").strip():
                undocumented_columns.setdefault(node["name"], []).append(column)
    # json, not the dict itself: pytest would cut a long dict's repr short.
    assert undocumented_columns == {}, json.dumps(undocumented_columns, indent=1, sort_keys=True)
    phantom_columns = {
        node["name"]: sorted(set(node["columns"]) - set(catalog[unique_id]["columns"]))
        for unique_id, node in models.items()
        if set(node["columns"]) - set(catalog[unique_id]["columns"])
    }
    assert phantom_columns == {}
