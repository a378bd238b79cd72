"""The raw schema: idempotent migrations, no-op reloads, and one-week reads that touch one week."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from sniper.db.copy import copy_frame, ensure_week_partitions
from sniper.db.migrate import migrate

MONDAY = datetime(2024, 6, 3, tzinfo=timezone.utc)  # 2024-06-03 is a Monday


def _trades(symbol: str, start: datetime, days: int, per_day: int) -> pd.DataFrame:
    ts = pd.date_range(start, periods=days * per_day, freq=pd.Timedelta(days=1) / per_day)
    return pd.DataFrame(
        {
            "exchange": "binance",
            "market": "spot",
            "symbol": symbol,
            "trade_id": range(1, len(ts) + 1),
            "ts": ts,
            "price": 100.0,
            "qty": 1.5,
            "quote_qty": 150.0,
            "is_buyer_maker": False,
        }
    )


def _scan_nodes(plan: dict) -> list[dict]:
    nodes = [plan] if "Relation Name" in plan else []
    for child in plan.get("Plans", []):
        nodes += _scan_nodes(child)
    return nodes


def test_migrations_are_idempotent(database):
    with database.connect() as conn:
        assert migrate(conn) == []
        versions = [row[0] for row in conn.execute("select version from raw.schema_migrations order by 1")]
    assert versions[:2] == ["0001_raw_schema", "0002_synth_truth"]


def test_reloading_the_same_rows_is_a_no_op(database):
    frame = _trades("BTCUSDT", MONDAY, days=2, per_day=100)
    with database.connect() as conn:
        ensure_week_partitions(conn, ["raw.trades"], MONDAY, MONDAY + timedelta(days=2))
        assert copy_frame(conn, "raw.trades", frame) == 200
        assert copy_frame(conn, "raw.trades", frame) == 0
        conn.commit()
    assert database.scalar("select count(*) from raw.trades") == 200


def test_week_partitions_start_monday_utc(database):
    with database.connect() as conn:
        ensure_week_partitions(conn, ["raw.trades"], MONDAY + timedelta(days=2), MONDAY + timedelta(days=9))
        conn.commit()
    bounds = database.rows(
        "select c.relname, pg_get_expr(c.relpartbound, c.oid) from pg_inherits i"
        " join pg_class c on c.oid = i.inhrelid where i.inhparent = 'raw.trades'::regclass order by 1"
    )
    assert [name for name, _ in bounds] == ["trades_w20240603", "trades_w20240610"]
    assert "2024-06-03 00:00:00+00" in bounds[0][1] and "2024-06-10 00:00:00+00" in bounds[0][1]


def test_a_load_whose_partitions_exist_does_not_wait_for_one_creating_another(database):
    """Two loaders in open transactions (the ingest writer's): the one whose week partition
    exists goes on while the other holds the creation lock; one that needs the partition being
    created waits for it and then finds it made, creating nothing twice."""
    import threading

    import psycopg

    week = ["raw.trades"], MONDAY, MONDAY + timedelta(days=1)
    next_week = ["raw.trades"], MONDAY + timedelta(days=7), MONDAY + timedelta(days=8)
    with database.connect() as conn:
        ensure_week_partitions(conn, *week)
        conn.commit()
    with database.connect() as creating, database.connect() as other:
        ensure_week_partitions(creating, *next_week)  # uncommitted: holds the lock until it commits
        other.execute("set lock_timeout = '1s'")
        ensure_week_partitions(other, *week)  # exists: no lock taken, no wait
        with pytest.raises(psycopg.errors.LockNotAvailable):
            ensure_week_partitions(other, *next_week)  # being created: it must wait
        other.rollback()
        other.execute("set lock_timeout = 0")
        created: list[int] = []
        waiter = threading.Thread(target=lambda: created.append(other.execute(
            "select raw.ensure_week_partitions('raw.trades', %s, %s)", (next_week[1], next_week[2])).fetchone()[0]))
        waiter.start()
        waiter.join(timeout=1)
        assert waiter.is_alive()  # waiting for the creating transaction
        creating.commit()
        waiter.join(timeout=30)
        assert created == [0]
        other.commit()
    assert database.scalar("select count(*) from pg_inherits where inhparent = 'raw.trades'::regclass") == 2


@pytest.mark.parametrize(
    ("window_start", "window_days", "expected"),
    [
        (MONDAY + timedelta(days=7), 7, {"trades_w20240610"}),
        (MONDAY + timedelta(days=9), 3, {"trades_w20240610"}),
        (MONDAY + timedelta(days=9), 7, {"trades_w20240610", "trades_w20240617"}),
    ],
)
def test_one_week_read_touches_only_that_week(database, window_start, window_days, expected):
    with database.connect() as conn:
        ensure_week_partitions(conn, ["raw.trades"], MONDAY, MONDAY + timedelta(days=28))
        for symbol in ("BTCUSDT", "ETHUSDT"):
            copy_frame(conn, "raw.trades", _trades(symbol, MONDAY, days=28, per_day=2_000))
        conn.commit()
        conn.execute("analyze raw.trades")
        plan = conn.execute(
            "explain (format json) select date_bin('5 minutes', ts, timestamptz '2000-01-03'), sum(qty)"
            " from raw.trades where symbol = %s and ts >= %s and ts < %s group by 1",
            ("BTCUSDT", window_start, window_start + timedelta(days=window_days)),
        ).fetchone()[0]
    plan = plan[0]["Plan"] if isinstance(plan, list) else json.loads(plan)[0]["Plan"]
    # Partition pruning: only the partitions holding the window appear in the plan.
    assert {scan["Relation Name"] for scan in _scan_nodes(plan)} == expected
    # Inside each partition the read is an index range on (symbol, ts), not a scan of the week.
    for scan in _scan_nodes(plan):
        assert "Index" in scan["Node Type"], scan["Node Type"]
        condition = scan["Index Cond"]
        assert "symbol = 'BTCUSDT'" in condition and "ts >= " in condition and "ts < " in condition


def test_copy_writes_every_layout_nulls_and_empty_text_exactly(database):
    """Rows whose text values differ in length, NULLs anywhere, and the empty string: read back
    equal to the frame written, through the binary path (the layouts are few) and through CSV
    (a layout limit of 0 forces it), the same."""
    from sniper.db import copy as copy_module

    at = pd.Timestamp("2024-03-04 05:06:07.891011", tz="UTC")
    frame = pd.DataFrame({
        "name": ["long", "short", None, "", "sideways", "é"],  # é: two bytes in UTF-8
        "at": [at, at + pd.Timedelta(microseconds=1), pd.NaT, at, at, at],
        "value": [0.5, float("nan"), -1e-300, 2.0, float("inf"), 3.0],
        "count": pd.array([1, 2, None, 4, -5, 2**40], dtype="Int64"),
        "flag": [True, False, True, True, False, False],
    })
    expected = [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False)]
    table_types = {"name": "text", "at": "timestamptz", "value": "float8", "count": "int8", "flag": "bool"}
    assert copy_module._binary_rows(frame, table_types) is not None  # the first pass really is binary
    for limit in (copy_module.MAX_BINARY_LAYOUTS, 0):
        with database.connect() as conn:
            conn.execute("create table public.layouts (name text, at timestamptz, value float8, count bigint,"
                         " flag boolean)")
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(copy_module, "MAX_BINARY_LAYOUTS", limit)
                assert copy_frame(conn, "public.layouts", frame, skip_duplicates=False) == 6
            stored = conn.execute("select name, at, value, count, flag from public.layouts").fetchall()
            conn.rollback()
        if limit == 0:  # CSV cannot tell the empty string from NULL (python/db/copy.py)
            expected_here = [(None, *row[1:]) if row[0] == "" else row for row in expected]
        else:
            expected_here = expected
        assert sorted(stored, key=repr) == sorted(expected_here, key=repr), limit
