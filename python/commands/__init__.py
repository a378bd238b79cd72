"""One module per CLI noun; each exposes ``register(subparsers)``."""

from sniper.commands import db, dbt, demo, synth

COMMAND_MODULES = [db, synth, dbt, demo]
