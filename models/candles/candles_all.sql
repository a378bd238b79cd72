-- One row per symbol, timeframe and bucket: every candle table in one relation for analysts.
-- Columns listed, not *: UNION ALL matches columns by position.
with

candles_5m as (
    select * from {{ ref('candles_5m') }}
),

candles_15m as (
    select * from {{ ref('candles_15m') }}
),

candles_1h as (
    select * from {{ ref('candles_1h') }}
),

candles_4h as (
    select * from {{ ref('candles_4h') }}
),

candles_1d as (
    select * from {{ ref('candles_1d') }}
),

candles_1w as (
    select * from {{ ref('candles_1w') }}
),

candles_1mo as (
    select * from {{ ref('candles_1mo') }}
),

unioned as (
    select
        '5m' as timeframe,
        symbol,
        bucket_start_at,
        open,
        high,
        low,
        close,
        volume,
        quote_volume,
        trade_count,
        taker_buy_volume,
        taker_sell_volume,
        vwap,
        first_trade_id,
        last_trade_id,
        is_complete,
        is_empty
    from candles_5m

    union all

    select
        '15m' as timeframe,
        symbol,
        bucket_start_at,
        open,
        high,
        low,
        close,
        volume,
        quote_volume,
        trade_count,
        taker_buy_volume,
        taker_sell_volume,
        vwap,
        first_trade_id,
        last_trade_id,
        is_complete,
        is_empty
    from candles_15m

    union all

    select
        '1h' as timeframe,
        symbol,
        bucket_start_at,
        open,
        high,
        low,
        close,
        volume,
        quote_volume,
        trade_count,
        taker_buy_volume,
        taker_sell_volume,
        vwap,
        first_trade_id,
        last_trade_id,
        is_complete,
        is_empty
    from candles_1h

    union all

    select
        '4h' as timeframe,
        symbol,
        bucket_start_at,
        open,
        high,
        low,
        close,
        volume,
        quote_volume,
        trade_count,
        taker_buy_volume,
        taker_sell_volume,
        vwap,
        first_trade_id,
        last_trade_id,
        is_complete,
        is_empty
    from candles_4h

    union all

    select
        '1d' as timeframe,
        symbol,
        bucket_start_at,
        open,
        high,
        low,
        close,
        volume,
        quote_volume,
        trade_count,
        taker_buy_volume,
        taker_sell_volume,
        vwap,
        first_trade_id,
        last_trade_id,
        is_complete,
        is_empty
    from candles_1d

    union all

    select
        '1w' as timeframe,
        symbol,
        bucket_start_at,
        open,
        high,
        low,
        close,
        volume,
        quote_volume,
        trade_count,
        taker_buy_volume,
        taker_sell_volume,
        vwap,
        first_trade_id,
        last_trade_id,
        is_complete,
        is_empty
    from candles_1w

    union all

    select
        '1mo' as timeframe,
        symbol,
        bucket_start_at,
        open,
        high,
        low,
        close,
        volume,
        quote_volume,
        trade_count,
        taker_buy_volume,
        taker_sell_volume,
        vwap,
        first_trade_id,
        last_trade_id,
        is_complete,
        is_empty
    from candles_1mo
)

select * from unioned
