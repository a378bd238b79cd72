"""`dbt build` (every model and every data test) succeeds on a small synthetic market."""

from __future__ import annotations

from datetime import date

from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from sniper.warehouse import invoke_dbt


def test_dbt_build_passes_on_a_synthetic_week(database):
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
