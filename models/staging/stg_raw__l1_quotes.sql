with source as (
    select * from {{ source('raw', 'l1_quotes') }}
    where market = '{{ var("market") }}'
),

renamed as (
    select
        symbol,
        update_id,
        ts as quoted_at,
        bid_price,
        bid_qty,
        ask_price,
        ask_qty,
        exchange,
        market
    from source
)

select * from renamed
