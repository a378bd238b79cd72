"""The cold tier: raw tick weeks past a horizon as verified Parquet files, and back (docs/cold.md)."""
