{{
    config(
        meta={'retention_timeframe': '5m'},
    )
}}

with {{ window_bounds_cte('5m') }},

confirmed as (
    -- Only what was known at each quote: an interval counts once its level is confirmed.
    select
        intervals.exchange,
        intervals.market,
        intervals.symbol,
        intervals.bucket_start_at,
        intervals.side,
        intervals.episode_started_at,
        intervals.hidden_qty_added
    from {{ ref('int_features__iceberg_intervals') }} as intervals
    inner join window_bounds
        on
            {{ same_instrument('intervals', 'window_bounds') }}
            and intervals.quoted_at >= window_bounds.window_start_at
            and intervals.quoted_at < window_bounds.window_end_at
    where intervals.is_confirmed
),

final as (
    select
        exchange,
        market,
        symbol,
        bucket_start_at,
        count(distinct episode_started_at) filter (where side = 'bid') as iceberg_bid_count,
        count(distinct episode_started_at) filter (where side = 'ask') as iceberg_ask_count,
        coalesce(sum(hidden_qty_added) filter (where side = 'bid'), 0) as iceberg_bid_hidden_volume,
        coalesce(sum(hidden_qty_added) filter (where side = 'ask'), 0) as iceberg_ask_hidden_volume
    from confirmed
    group by exchange, market, symbol, bucket_start_at
)

select final.*
from final
{{- features_keep_materialized('final') }}
