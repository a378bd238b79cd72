with source as (
    select * from {{ source('ml', 'entry_signals') }}
),

renamed as (
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
    from source
)

select * from renamed
