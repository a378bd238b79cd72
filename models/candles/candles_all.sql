{{ config(materialized='view') }}

-- One row per instrument, timeframe and bucket: every candle table in one relation for analysts.
-- One branch per timeframe of the timeframes() macro; columns listed, not *: UNION ALL
-- matches columns by position.
{% for name in timeframes() %}
    {%- if not loop.first %}
        union all
    {% endif %}
    select
        '{{ name }}' as timeframe,
        exchange,
        market,
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
    from {{ ref('candles_' ~ name) }}
{% endfor %}
