"""sniper.db.statistics: the raw tables are analyzed after they change, and only then."""

from __future__ import annotations

from datetime import date

from sniper.db.statistics import analyze_raw
from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate


def _flush_statistics(conn) -> None:
    """A backend reports its row counts when idle, at most once a second unless forced: the
    forced report is sent before the statement after this one returns."""
    conn.execute("select pg_stat_force_next_flush()")
    conn.execute("select 1")


def test_raw_tables_are_analyzed_once_after_they_change(database):
    with database.connect(autocommit=True) as writer:
        generate(writer, SynthConfig(symbols=["BTCUSDT"], start=date(2024, 6, 3), months=1, days=1,
                                     trades_per_day=200))
        _flush_statistics(writer)
    with database.connect(autocommit=True) as conn:
        analyze_raw(conn)  # what the generator's own ANALYZE left for later, if anything
        assert analyze_raw(conn) == []
        last_analyzed = conn.execute("select last_analyze from pg_stat_user_tables where relid = 'raw.trades'::regclass"
                                     ).fetchone()[0]
        assert last_analyzed is not None

    with database.connect(autocommit=True) as writer:
        writer.execute("delete from raw.trades where trade_id = (select min(trade_id) from raw.trades)")
        _flush_statistics(writer)
    with database.connect(autocommit=True) as conn:
        assert analyze_raw(conn) == ["trades"]
        assert analyze_raw(conn) == []
        assert conn.execute("select last_analyze from pg_stat_user_tables where relid = 'raw.trades'::regclass"
                            ).fetchone()[0] > last_analyzed
