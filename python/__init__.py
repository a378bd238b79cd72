"""sniper: a SQL-first market-data warehouse and training pipeline for short-term crypto entries."""

__version__ = "0.1.0"
