with source as (
    select * from {{ source('raw', 'funding_rates') }}
),

renamed as (
    select
        exchange,
        market,
        symbol,
        ts as settled_at,
        funding_interval_hours,
        funding_rate
    from source
)

select * from renamed
