with source as (
    select * from {{ source('ops', 'backfill_runs') }}
),

renamed as (
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
    from source
)

select * from renamed
