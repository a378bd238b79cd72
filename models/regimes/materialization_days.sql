-- A view, unlike the other regime models: it reads ops.backfill_runs as the backfill writes
-- it, so the planner sees a window done the moment its attempt succeeds.
{{ config(materialized='view') }}

-- One row per instrument and UTC day that a load of trades touched: whether the backfill has
-- materialized it since its newest load, and whether a retention run expired it. The
-- backfill planner (python/backfill/planner.py) reads this instead of deciding it again:
-- it plans the days that are neither materialized nor expired.
with load_spans as (
    select * from {{ ref('int_coverage__load_spans') }}
),

backfill_runs as (
    select * from {{ ref('stg_ops__backfill_runs') }}
    where status = 'succeeded'
),

retention_runs as (
    select * from {{ ref('stg_ops__retention_runs') }}
    where model = 'candles_1d'
),

load_days as (
    select
        load_spans.exchange,
        load_spans.market,
        load_spans.symbol,
        touched.day_date::date as day_date,
        max(load_spans.loaded_at) as last_loaded_at
    from load_spans
    cross join
        generate_series(
            (load_spans.covered_from_at at time zone 'UTC')::date,
            ((load_spans.covered_until_at - interval '1 microsecond') at time zone 'UTC')::date,
            interval '1 day'
        ) as touched (day_date)
    where load_spans.covered_until_at > load_spans.covered_from_at
    group by load_spans.exchange, load_spans.market, load_spans.symbol, touched.day_date::date
),

backfilled_days as (
    select
        backfill_runs.exchange,
        backfill_runs.market,
        backfill_runs.symbol,
        backfill_runs.window_start_date + day_offset.day_number as day_date,
        max(backfill_runs.started_at) as last_backfilled_at
    from backfill_runs
    cross join generate_series(0, backfill_runs.window_days - 1) as day_offset (day_number)
    group by
        backfill_runs.exchange,
        backfill_runs.market,
        backfill_runs.symbol,
        backfill_runs.window_start_date + day_offset.day_number
),

expired_until as (
    -- A retention run deletes the buckets ending at or before its cutoff: every day before
    -- the cutoff's day is gone on purpose and is not materialized again.
    select
        exchange,
        market,
        symbol,
        (max(cutoff_at) at time zone 'UTC')::date as first_kept_date
    from retention_runs
    group by exchange, market, symbol
),

days as (
    select
        load_days.exchange,
        load_days.market,
        load_days.symbol,
        load_days.day_date,
        load_days.last_loaded_at,
        backfilled_days.last_backfilled_at,
        -- Only a whole window counts: a run killed after its candles but before its
        -- features or regimes leaves complete candles and an unfinished day.
        coalesce(backfilled_days.last_backfilled_at > load_days.last_loaded_at, false) as is_materialized,
        coalesce(load_days.day_date < expired_until.first_kept_date, false) as is_expired
    from load_days
    left join backfilled_days
        on
            {{ same_instrument('load_days', 'backfilled_days') }}
            and load_days.day_date = backfilled_days.day_date
    left join expired_until
        on {{ same_instrument('load_days', 'expired_until') }}
)

select * from days
