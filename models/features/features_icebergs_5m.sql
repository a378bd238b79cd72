{{
    config(
        materialized='incremental',
        unique_key=['symbol', 'bucket_start_at'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

with windows as (
    {{ features_windows() }}
),

intervals as (
    select * from {{ ref('int_features__iceberg_intervals') }}
),

confirmed as (
    -- Only what was known at each quote: an interval counts once its level is confirmed.
    select
        intervals.symbol,
        intervals.side,
        intervals.episode_started_at,
        intervals.quoted_at,
        intervals.hidden_qty_added
    from intervals
    inner join windows
        on
            intervals.symbol = windows.symbol
            and intervals.quoted_at >= windows.window_start_at
            and intervals.quoted_at < windows.window_end_at
    where intervals.is_confirmed
),

final as (
    select
        symbol,
        {{ features_bucket('quoted_at') }} as bucket_start_at,
        count(distinct episode_started_at) filter (where side = 'bid') as iceberg_bid_count,
        count(distinct episode_started_at) filter (where side = 'ask') as iceberg_ask_count,
        coalesce(sum(hidden_qty_added) filter (where side = 'bid'), 0) as iceberg_bid_hidden_volume,
        coalesce(sum(hidden_qty_added) filter (where side = 'ask'), 0) as iceberg_ask_hidden_volume
    from confirmed
    group by symbol, {{ features_bucket('quoted_at') }}
)

select * from final
