with source as (
    select * from {{ source('ops', 'retention_runs') }}
),

renamed as (
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
    from source
)

select * from renamed
