"""A window narrowed to minutes (window_first_minute, window_end_minute) builds the same rows as
the whole day: one synthetic day built as one window in one database, and in a copy of it as
three narrowed windows (00:00-08:00, the one bucket 08:00-08:05, 08:05-24:00) with
force_recompute, as the live materialization builds it. Every candle timeframe and the 5m
features must be equal, column for column."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
from pydantic import ValidationError

from sniper.db.scratch import copy_scratch_database, drop_scratch_database
from sniper.dbt_vars import ProjectVars
from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from tests import conftest
from tests.conftest import run_cli

DAY = date(2024, 6, 4)
BUILD = ["dbt", "build", "--select", "staging", "candles+", "--exclude", "path:models/ml", "--exclude-resource-type",
         "unit_test", "--indirect-selection", "eager"]
TABLES = [f"candles.candles_{tf}" for tf in ("5m", "15m", "1h", "4h", "1d")] + ["features.features_5m"]


def build(db: conftest.TestDatabase, project_vars: ProjectVars) -> None:
    done = run_cli(*BUILD, "--vars", json.dumps(project_vars.overrides()), env={"SNIPER_DATABASE_URL": db.url})
    assert done.returncode == 0, done.stdout[-3000:]


def day_rows(db: conftest.TestDatabase, table: str) -> pd.DataFrame:
    return db.frame(f"select * from {table} where bucket_start_at >= %s and bucket_start_at < %s + 1"  # noqa: S608
                    " order by exchange, market, symbol, bucket_start_at", (DAY, DAY))


def test_narrowed_windows_build_the_rows_of_the_whole_day(database, pg_cluster):
    with database.connect(autocommit=True) as conn:
        generate(conn, SynthConfig(symbols=["BTCUSDT"], start=date(2024, 6, 3), months=1, days=2,
                                   trades_per_day=2_000, seed=3))
    name, url = copy_scratch_database(pg_cluster, database.name, "pieces")
    pieces = conftest.TestDatabase(name=name, url=url, cluster=pg_cluster)
    try:
        build(database, ProjectVars(window_start=date(2024, 6, 3), window_days=2))
        # The first day whole in both: the pieces' database then builds the second day in three.
        build(pieces, ProjectVars(window_start=date(2024, 6, 3), window_days=1))
        for first, end in ((0, 480), (480, 485), (485, 1440)):
            build(pieces, ProjectVars(window_start=DAY, window_days=1, window_first_minute=first,
                                      window_end_minute=end, force_recompute=True))
        for table in TABLES:
            whole, built_in_pieces = day_rows(database, table), day_rows(pieces, table)
            assert len(whole) > 0, table
            pd.testing.assert_frame_equal(whole, built_in_pieces, check_exact=False, rtol=1e-9, obj=table)
    finally:
        drop_scratch_database(pg_cluster, name)


@pytest.mark.parametrize("values, problem", [
    ({"window_first_minute": 7}, "multiple of 5"),
    ({"window_first_minute": 60, "window_end_minute": 60}, "do not lie inside"),
    ({"window_end_minute": 1445}, "do not lie inside"),
    ({"window_start": None, "window_first_minute": 5}, "explicit window_start"),
])
def test_window_minutes_are_refused_outside_their_days(values, problem):
    with pytest.raises(ValidationError, match=problem):
        ProjectVars(**{"window_start": DAY, "window_days": 1, **values})
