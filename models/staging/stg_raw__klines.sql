with source as (
    select * from {{ source('raw', 'klines') }}
    where market = '{{ var("market") }}'
),

renamed as (
    select
        symbol,
        interval as kline_interval,
        open_at,
        close_at,
        open,
        high,
        low,
        close,
        volume,
        quote_volume,
        trade_count,
        taker_buy_volume,
        taker_buy_quote_volume,
        exchange,
        market
    from source
)

select * from renamed
