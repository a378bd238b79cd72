"""One module per CLI noun; each exposes ``register(subparsers)``."""

from sniper.commands import (
    backfill,
    cold,
    db,
    dbt,
    demo,
    deploy,
    ingest,
    record,
    report,
    retention,
    score,
    status,
    synth,
    train,
)

COMMAND_MODULES = [db, synth, ingest, record, dbt, backfill, retention, cold, train, deploy, score, report, status, demo]
