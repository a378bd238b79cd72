-- Every backfill window attempt the flows recorded (ops.backfill_runs), for the planner's
-- state and the analysts' view of what ran.
-- A flat select, as every staging view here: callers' filters reach the raw indexes.
select
    attempt_id,
    exchange,
    market,
    symbol,
    window_start_date,
    window_days,
    status,
    started_at,
    finished_at
from {{ source('ops', 'backfill_runs') }}
