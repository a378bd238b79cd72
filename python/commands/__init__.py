"""One module per CLI noun; each exposes ``register(subparsers)``."""

from sniper.commands import db, dbt, demo, synth
from sniper.commands import ingest

COMMAND_MODULES = [db, synth, dbt, demo]
COMMAND_MODULES.append(ingest)
