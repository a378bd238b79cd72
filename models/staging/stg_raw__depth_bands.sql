with source as (
    select * from {{ source('raw', 'depth_bands') }}
    where market = '{{ var("market") }}'
),

renamed as (
    select
        symbol,
        ts as snapshot_at,
        side,
        band_pct,
        depth,
        notional,
        exchange,
        market
    from source
)

select * from renamed
