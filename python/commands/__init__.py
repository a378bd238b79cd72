"""One module per CLI noun; each exposes ``register(subparsers)``."""

from sniper.commands import backfill, db, dbt, demo, ingest, report, status, synth, train

COMMAND_MODULES = [db, synth, ingest, dbt, backfill, train, report, status, demo]
