{{
    config(
        meta={'retention_timeframe': '5m'},
    )
}}

{%- set oi_age = "interval '" ~ sniper_var('open_interest_max_age_minutes') ~ " minutes'" %}
{%- set funding_age = "interval '" ~ sniper_var('funding_max_age_hours') ~ " hours'" %}

-- One row per instrument and 5-minute bucket of a USD-M contract: its open interest at the
-- bucket's close, its change over the bucket and over the hour, and the funding rate in
-- force. Each value is the newest published one strictly before the bucket's end (and young
-- enough): looked up per bucket, so a value never depends on where the window starts.
-- Spot instruments have no rows (no open interest, no funding).
with {{ window_bounds_cte('5m') }},

buckets as (
    -- The window's candle buckets: features never run ahead of the candles.
    {{ features_window_buckets() }}
),

metrics as not materialized (
    -- Not materialized: each lookup below reads the raw (symbol, ts) index, not a copy.
    select * from {{ ref('stg_raw__futures_metrics') }}
),

funding as (
    select * from {{ ref('stg_raw__funding_rates') }}
),

open_interest as (
    -- Three instants per bucket: its close, its start (the previous bucket's close) and an
    -- hour before its close; one index probe each.
    select
        buckets.exchange,
        buckets.market,
        buckets.symbol,
        buckets.bucket_start_at,
        at_close.snapshot_at as open_interest_snapshot_at,
        at_close.open_interest,
        at_close.open_interest_value,
        at_start.open_interest as open_interest_at_start,
        hour_before.open_interest as open_interest_hour_before
    from buckets
    left join lateral (
        select
            metrics.snapshot_at,
            metrics.open_interest,
            metrics.open_interest_value
        from metrics
        where
            {{ same_instrument('metrics', 'buckets') }}
            and metrics.snapshot_at < buckets.bucket_start_at + interval '5 minutes'
            and metrics.snapshot_at >= buckets.bucket_start_at + interval '5 minutes' - {{ oi_age }}
        order by metrics.snapshot_at desc
        limit 1
    ) as at_close on true
    left join lateral (
        select metrics.open_interest
        from metrics
        where
            {{ same_instrument('metrics', 'buckets') }}
            and metrics.snapshot_at < buckets.bucket_start_at
            and metrics.snapshot_at >= buckets.bucket_start_at - {{ oi_age }}
        order by metrics.snapshot_at desc
        limit 1
    ) as at_start on true
    left join lateral (
        select metrics.open_interest
        from metrics
        where
            {{ same_instrument('metrics', 'buckets') }}
            and metrics.snapshot_at < buckets.bucket_start_at + interval '5 minutes' - interval '1 hour'
            and metrics.snapshot_at >= buckets.bucket_start_at + interval '5 minutes' - interval '1 hour' - {{ oi_age }}
        order by metrics.snapshot_at desc
        limit 1
    ) as hour_before on true
),

with_funding as (
    select
        open_interest.*,
        settled.settled_at as funding_settled_at,
        settled.funding_rate
    from open_interest
    left join lateral (
        select
            funding.settled_at,
            funding.funding_rate
        from funding
        where
            {{ same_instrument('funding', 'open_interest') }}
            and funding.settled_at < open_interest.bucket_start_at + interval '5 minutes'
            and funding.settled_at >= open_interest.bucket_start_at + interval '5 minutes' - {{ funding_age }}
        order by funding.settled_at desc
        limit 1
    ) as settled on true
),

final as (
    -- Changes are log changes: they add up over consecutive buckets and compare across
    -- contracts of any size.
    select
        exchange,
        market,
        symbol,
        bucket_start_at,
        open_interest_snapshot_at,
        open_interest,
        open_interest_value,
        ln(nullif(open_interest, 0) / nullif(open_interest_at_start, 0)) as open_interest_change,
        ln(nullif(open_interest, 0) / nullif(open_interest_hour_before, 0)) as open_interest_change_1h,
        funding_settled_at,
        funding_rate
    from with_funding
    where open_interest_snapshot_at is not null or funding_settled_at is not null
)

select final.*
from final
{{- features_keep_materialized('final') }}
