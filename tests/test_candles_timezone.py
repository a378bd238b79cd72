"""Candles do not depend on the session's TimeZone: UTC buckets, whole UTC days, 24-hour days.

dbt connects with PGTZ=Europe/Berlin, whose clocks went back on 2024-10-27: a day or week
computed with a plain `timestamptz + interval '1 day'` would come out 25 hours long there.
The candles over two weeks across that change must equal the pandas reference in UTC.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from sniper.warehouse import invoke_dbt
from tests.test_candles_reference import (
    TIMEFRAMES,
    Span,
    assert_candles_equal,
    read_candles,
    read_covered_days,
    read_trades,
    reference_candles,
)

pytestmark = pytest.mark.slow


def test_candles_across_a_daylight_saving_change_in_the_session_time_zone(database, tmp_path, monkeypatch):
    with database.connect(autocommit=True) as conn:
        generate(conn, SynthConfig(symbols=["ETHUSDT"], start=date(2024, 10, 21), months=2, days=14, trades_per_day=500))
    monkeypatch.setenv("PGTZ", "Europe/Berlin")
    for window_start in ("2024-10-21", "2024-10-28"):  # the first week holds the change (Sunday 27th)
        result = invoke_dbt(["run", "--select", "+candles", "--target-path", str(tmp_path)],
                            {"window_start": window_start})
        assert result.success, result.exception
    assert database.scalar("select count(*) from candles.candles_5m") == 14 * 288
    span = Span(pd.Timestamp("2024-10-21", tz="UTC"), pd.Timestamp("2024-11-04", tz="UTC"))
    with database.connect() as conn:
        trades, covered = read_trades(conn, "ETHUSDT"), read_covered_days(conn, "ETHUSDT")
        for timeframe in TIMEFRAMES:
            expected = reference_candles(trades, covered, span, timeframe)
            assert_candles_equal(read_candles(conn, timeframe), expected, f"ETHUSDT {timeframe} (PGTZ=Europe/Berlin)")
