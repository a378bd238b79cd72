"""The nightly backfill: which windows to materialize next, and a ledger of attempts."""
