"""One module per CLI noun; each exposes ``register(subparsers)``."""

from sniper.commands import backfill, db, dbt, demo, ingest, report, retention, status, synth, train

COMMAND_MODULES = [db, synth, ingest, dbt, backfill, retention, train, report, status, demo]
