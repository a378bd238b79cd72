{{
    config(
        meta={'retention_timeframe': '5m'},
    )
}}

{%- set rolling_buckets = sniper_var('cvd_rolling_buckets') %}
{%- set rolling_span = "interval '" ~ (rolling_buckets - 1) * 5 ~ " minutes'" %}
{%- set whale = sniper_var('whale_min_notional') %}

with {{ window_bounds_cte('5m') }},

window_trades as (
    -- The window's time range for all instruments, in primary key order (an instrument's
    -- own bounds are applied per bucket, at the end).
    {{ window_filter(ref('stg_raw__trades'), 'traded_at') }}
),

range_starts as (
    select
        exchange,
        market,
        symbol,
        least(
            date_trunc('day', window_start_at, 'UTC'),
            window_start_at - {{ rolling_span }}
        ) as lookback_start_at,
        window_start_at as range_start_at
    from window_bounds
),

earlier_trades as (
    -- What the running sums need before the range read: the rest of the window's first UTC
    -- day (none: windows start at midnight) and the rolling sum's earlier buckets.
    select earlier.*
    from range_starts
    cross join lateral (
        select trades.*
        from {{ ref('stg_raw__trades') }} as trades
        where
            {{ same_instrument('trades', 'range_starts') }}
            and trades.traded_at >= range_starts.lookback_start_at
            and trades.traded_at < range_starts.range_start_at
        -- the primary key's order; offset 0 keeps the lateral an index range per instrument
        order by trades.traded_at, trades.trade_id
        offset 0
    ) as earlier
),

taker_orders as (
    -- One taker order sweeping several price levels prints several trades with one
    -- timestamp and side: they are one order for the whale threshold. Grouped per
    -- timestamp (both sides in one row), the window's trades in their primary key order.
    select
        exchange,
        market,
        symbol,
        traded_at,
        sum(qty) filter (where not is_buyer_maker) as buy_qty,
        sum(qty) filter (where is_buyer_maker) as sell_qty,
        sum(quote_qty) filter (where not is_buyer_maker) as buy_notional,
        sum(quote_qty) filter (where is_buyer_maker) as sell_notional
    from window_trades
    group by exchange, market, symbol, traded_at

    union all

    select
        exchange,
        market,
        symbol,
        traded_at,
        sum(qty) filter (where not is_buyer_maker) as buy_qty,
        sum(qty) filter (where is_buyer_maker) as sell_qty,
        sum(quote_qty) filter (where not is_buyer_maker) as buy_notional,
        sum(quote_qty) filter (where is_buyer_maker) as sell_notional
    from earlier_trades
    group by exchange, market, symbol, traded_at
),

buckets as (
    select
        exchange,
        market,
        symbol,
        {{ bucket_start('5m', 'traded_at') }} as bucket_start_at,
        count(buy_qty) + count(sell_qty) as taker_order_count,
        coalesce(sum(buy_qty), 0) as taker_buy_volume,
        coalesce(sum(sell_qty), 0) as taker_sell_volume,
        count(*) filter (where buy_notional >= {{ whale }})
        + count(*) filter (where sell_notional >= {{ whale }}) as whale_order_count,
        coalesce(sum(buy_qty) filter (where buy_notional >= {{ whale }}), 0) as whale_buy_volume,
        coalesce(sum(sell_qty) filter (where sell_notional >= {{ whale }}), 0) as whale_sell_volume
    from taker_orders
    group by exchange, market, symbol, {{ bucket_start('5m', 'traded_at') }}
),

deltas as (
    select
        *,
        taker_buy_volume - taker_sell_volume as volume_delta,
        whale_buy_volume - whale_sell_volume as whale_volume_delta,
        date_trunc('day', bucket_start_at, 'UTC') as day_start_at
    from buckets
),

cumulative as (
    select
        exchange,
        market,
        symbol,
        bucket_start_at,
        taker_order_count,
        taker_buy_volume,
        taker_sell_volume,
        volume_delta,
        sum(volume_delta) over utc_day as cvd_day,
        sum(volume_delta) over rolling as cvd_rolling,
        whale_order_count,
        whale_buy_volume,
        whale_sell_volume,
        whale_volume_delta,
        sum(whale_volume_delta) over utc_day as whale_cvd_day,
        sum(whale_volume_delta) over rolling as whale_cvd_rolling
    from deltas
    window
        utc_day as (partition by exchange, market, symbol, day_start_at order by bucket_start_at),
        rolling as (
            partition by exchange, market, symbol order by bucket_start_at
            range between {{ rolling_span }} preceding and current row
        )
),

candle_buckets as (
    -- The window's candle buckets: features never run ahead of the candles.
    {{ features_window_buckets() }}
),

final as (
    select cumulative.*
    from cumulative
    inner join candle_buckets
        on
            {{ same_instrument('cumulative', 'candle_buckets') }}
            and cumulative.bucket_start_at = candle_buckets.bucket_start_at
)

select final.*
from final
{{- features_keep_materialized('final') }}
