with source as (
    select * from {{ source('raw', 'trades') }}
    where market = '{{ var("market") }}'
),

renamed as (
    select
        symbol,
        trade_id,
        ts as traded_at,
        price,
        qty,
        quote_qty,
        is_buyer_maker,
        exchange,
        market
    from source
)

select * from renamed
