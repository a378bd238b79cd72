{{
    config(
        meta={'retention_timeframe': '5m'},
    )
}}

with {{ window_bounds_cte('5m') }},

candles as (
    select
        candles.exchange,
        candles.market,
        candles.symbol,
        candles.bucket_start_at,
        candles.open,
        candles.high,
        candles.low,
        candles.close,
        candles.volume,
        candles.quote_volume,
        candles.trade_count,
        candles.vwap,
        candles.is_complete,
        candles.is_empty
    from {{ ref('candles_5m') }} as candles
    inner join window_bounds
        on
            {{ same_instrument('candles', 'window_bounds') }}
            and candles.bucket_start_at >= window_bounds.window_start_at
            and candles.bucket_start_at < window_bounds.window_end_at
),

trade_flow as (
    select * from {{ ref('features_trade_flow_5m') }}
),

l1 as (
    select * from {{ ref('features_l1_5m') }}
),

depth as (
    select * from {{ ref('features_depth_5m') }}
),

gamma as (
    select * from {{ ref('features_gamma_5m') }}
),

icebergs as (
    select * from {{ ref('features_icebergs_5m') }}
),

futures as (
    select * from {{ ref('features_futures_5m') }}
),

final as (
    -- Missing inputs stay NULL: no trades, no flow; no L1 update, no OFI/OBI (the coverage
    -- says how much of the bucket had a known book); no usable snapshot, no depth or gamma;
    -- no open-interest snapshot or funding rate (every spot instrument), none of those.
    select
        candles.exchange,
        candles.market,
        candles.symbol,
        candles.bucket_start_at,
        candles.open,
        candles.high,
        candles.low,
        candles.close,
        candles.volume,
        candles.quote_volume,
        candles.trade_count,
        candles.vwap,
        candles.is_complete,
        candles.is_empty,
        trade_flow.taker_buy_volume,
        trade_flow.taker_sell_volume,
        trade_flow.volume_delta,
        trade_flow.cvd_day,
        trade_flow.cvd_rolling,
        trade_flow.whale_order_count,
        trade_flow.whale_buy_volume,
        trade_flow.whale_sell_volume,
        trade_flow.whale_volume_delta,
        trade_flow.whale_cvd_day,
        trade_flow.whale_cvd_rolling,
        coalesce(l1.l1_update_count, 0) as l1_update_count,
        coalesce(l1.l1_coverage, 0) as l1_coverage,
        l1.ofi,
        l1.ofi_normalized,
        l1.l1_avg_depth,
        l1.obi_l1_twap,
        l1.obi_l1_close,
        depth.depth_snapshot_at,
        depth.obi_depth_1pct,
        depth.obi_depth_2pct,
        depth.obi_depth_3pct,
        depth.obi_depth_4pct,
        depth.obi_depth_5pct,
        gamma.gamma_snapshot_at,
        gamma.gamma_exposure,
        gamma.max_abs_gamma_strike,
        gamma.max_abs_gamma_strike / gamma.gamma_spot - 1 as max_abs_gamma_strike_distance,
        gamma.zero_gamma_level,
        gamma.zero_gamma_distance,
        case
            when l1.l1_update_count > 0 and trade_flow.symbol is not null then coalesce(icebergs.iceberg_bid_count, 0)
        end as iceberg_bid_count,
        case
            when l1.l1_update_count > 0 and trade_flow.symbol is not null then coalesce(icebergs.iceberg_ask_count, 0)
        end as iceberg_ask_count,
        case
            when l1.l1_update_count > 0 and trade_flow.symbol is not null
                then coalesce(icebergs.iceberg_bid_hidden_volume, 0)
        end as iceberg_bid_hidden_volume,
        case
            when l1.l1_update_count > 0 and trade_flow.symbol is not null
                then coalesce(icebergs.iceberg_ask_hidden_volume, 0)
        end as iceberg_ask_hidden_volume,
        futures.open_interest_snapshot_at,
        futures.open_interest,
        futures.open_interest_value,
        futures.open_interest_change,
        futures.open_interest_change_1h,
        futures.funding_settled_at,
        futures.funding_rate
    from candles
    left join trade_flow
        on {{ same_instrument('candles', 'trade_flow') }} and candles.bucket_start_at = trade_flow.bucket_start_at
    left join l1
        on {{ same_instrument('candles', 'l1') }} and candles.bucket_start_at = l1.bucket_start_at
    left join depth
        on {{ same_instrument('candles', 'depth') }} and candles.bucket_start_at = depth.bucket_start_at
    left join gamma
        on {{ same_instrument('candles', 'gamma') }} and candles.bucket_start_at = gamma.bucket_start_at
    left join icebergs
        on {{ same_instrument('candles', 'icebergs') }} and candles.bucket_start_at = icebergs.bucket_start_at
    left join futures
        on {{ same_instrument('candles', 'futures') }} and candles.bucket_start_at = futures.bucket_start_at
)

select final.*
from final
{{- features_keep_materialized('final') }}
