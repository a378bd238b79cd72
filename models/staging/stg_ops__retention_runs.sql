-- Every retention deletion `sniper retention apply` recorded (ops.retention_runs).
-- A flat select, as every staging view here: callers' filters reach the raw indexes.
select
    run_id,
    model,
    timeframe,
    exchange,
    market,
    symbol,
    cutoff_at,
    deleted_rows,
    applied_at
from {{ source('ops', 'retention_runs') }}
