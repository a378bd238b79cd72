-- The live scorer's entry signals (python/live/scoring.py writes ml.entry_signals), as the
-- forward record reads them.
-- A flat select, as every staging view here: callers' filters reach the raw indexes.
select
    exchange,
    market,
    symbol,
    bucket_start_at,
    run_id,
    deployment_status,
    entry_at,
    side,
    threshold,
    long_win_probability,
    short_win_probability,
    created_at
from {{ source('ml', 'entry_signals') }}
