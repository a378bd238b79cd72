"""One module per CLI noun; each exposes ``register(subparsers)``."""

from sniper.commands import backfill, cold, db, dbt, demo, ingest, record, report, retention, status, synth, train

COMMAND_MODULES = [db, synth, ingest, record, dbt, backfill, retention, cold, train, report, status, demo]
