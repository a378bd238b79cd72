{{ config(materialized='table') }}

-- One row per instrument and UTC day with a price: our complete daily candles where they
-- exist, the exchange's daily klines for days whose ticks are not materialized yet.
with candle_days as (
    select
        exchange,
        market,
        symbol,
        (bucket_start_at at time zone 'utc')::date as price_date,
        open,
        close
    from {{ ref('candles_1d') }}
    where is_complete and not is_empty
),

kline_days as (
    select
        exchange,
        market,
        symbol,
        (open_at at time zone 'utc')::date as price_date,
        open,
        close
    from {{ ref('stg_raw__klines') }}
    where kline_interval = '1d'
),

combined as (
    select
        exchange,
        market,
        symbol,
        price_date,
        open,
        close,
        'candles' as label_source
    from candle_days

    union all

    select
        kline_days.exchange,
        kline_days.market,
        kline_days.symbol,
        kline_days.price_date,
        kline_days.open,
        kline_days.close,
        'klines' as label_source
    from kline_days
    where not exists (
        select 1
        from candle_days
        where
            {{ same_instrument('candle_days', 'kline_days') }}
            and candle_days.price_date = kline_days.price_date
    )
),

final as (
    select
        exchange,
        market,
        symbol,
        price_date,
        open,
        close,
        -- Open to close of the same day: a gap in the data never becomes a return.
        ln(close / open) as log_return,
        label_source
    from combined
    where open > 0 and close > 0
)

select * from final
