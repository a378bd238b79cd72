{{
    config(
        materialized='incremental',
        unique_key=['symbol', 'bucket_start_at'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{%- set rolling_buckets = var('cvd_rolling_buckets') %}

with windows as (
    {{ features_windows() }}
),

trades as (
    -- The window plus what the running sums need before it: the rest of the window's
    -- first UTC day and the rolling sum's earlier buckets.
    select
        trades.symbol,
        trades.traded_at,
        trades.qty,
        trades.quote_qty,
        trades.is_buyer_maker,
        windows.window_start_at
    from {{ ref('stg_raw__trades') }} as trades
    inner join windows
        on
            trades.symbol = windows.symbol
            and trades.traded_at >= least(
                date_trunc('day', windows.window_start_at, 'UTC'),
                windows.window_start_at - interval '{{ (rolling_buckets - 1) * 5 }} minutes'
            )
            and trades.traded_at < windows.window_end_at
),

taker_orders as (
    -- One taker order sweeping several price levels prints several trades with one
    -- timestamp and side: they are one order for the whale threshold.
    select
        symbol,
        traded_at,
        is_buyer_maker,
        window_start_at,
        sum(qty) as qty,
        sum(quote_qty) as notional
    from trades
    group by symbol, traded_at, is_buyer_maker, window_start_at
),

buckets as (
    select
        symbol,
        {{ features_bucket('traded_at') }} as bucket_start_at,
        window_start_at,
        count(*) as taker_order_count,
        coalesce(sum(qty) filter (where not is_buyer_maker), 0) as taker_buy_volume,
        coalesce(sum(qty) filter (where is_buyer_maker), 0) as taker_sell_volume,
        count(*) filter (where notional >= {{ var('whale_min_notional') }}) as whale_order_count,
        coalesce(
            sum(qty) filter (where not is_buyer_maker and notional >= {{ var('whale_min_notional') }}), 0
        ) as whale_buy_volume,
        coalesce(
            sum(qty) filter (where is_buyer_maker and notional >= {{ var('whale_min_notional') }}), 0
        ) as whale_sell_volume
    from taker_orders
    group by symbol, {{ features_bucket('traded_at') }}, window_start_at
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
        symbol,
        bucket_start_at,
        window_start_at,
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
        utc_day as (partition by symbol, day_start_at order by bucket_start_at),
        rolling as (
            partition by symbol order by bucket_start_at
            range between interval '{{ (rolling_buckets - 1) * 5 }} minutes' preceding and current row
        )
),

final as (
    select
        symbol,
        bucket_start_at,
        taker_order_count,
        taker_buy_volume,
        taker_sell_volume,
        volume_delta,
        cvd_day,
        cvd_rolling,
        whale_order_count,
        whale_buy_volume,
        whale_sell_volume,
        whale_volume_delta,
        whale_cvd_day,
        whale_cvd_rolling
    from cumulative
    where bucket_start_at >= window_start_at
)

select * from final
