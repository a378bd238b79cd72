{{
    config(
        meta={'retention_timeframe': '5m'},
    )
}}

with {{ window_bounds_cte('5m') }},

bands as (
    -- The window's snapshots and those young enough to serve its first buckets.
    select
        bands.exchange,
        bands.market,
        bands.symbol,
        bands.snapshot_at,
        bands.side,
        bands.band_pct,
        bands.depth
    from window_bounds
    cross join lateral (
        select depth_bands.*
        from {{ ref('stg_raw__depth_bands') }} as depth_bands
        where
            {{ same_instrument('depth_bands', 'window_bounds') }}
            and depth_bands.snapshot_at
            >= window_bounds.window_start_at - interval '{{ sniper_var('depth_band_max_age_minutes') }} minutes'
            and depth_bands.snapshot_at < window_bounds.window_end_at
    ) as bands
),

band_imbalances as (
    -- Depth bands are cumulative: band k holds the resting size within k% of the mid.
    select
        exchange,
        market,
        symbol,
        snapshot_at,
        band_pct,
        (sum(depth) filter (where side = 'bid') - sum(depth) filter (where side = 'ask'))
        / nullif(sum(depth), 0) as obi
    from bands
    group by exchange, market, symbol, snapshot_at, band_pct
),

snapshots as (
    select
        exchange,
        market,
        symbol,
        snapshot_at,
        max(obi) filter (where band_pct = 1) as obi_depth_1pct,
        max(obi) filter (where band_pct = 2) as obi_depth_2pct,
        max(obi) filter (where band_pct = 3) as obi_depth_3pct,
        max(obi) filter (where band_pct = 4) as obi_depth_4pct,
        max(obi) filter (where band_pct = 5) as obi_depth_5pct
    from band_imbalances
    group by exchange, market, symbol, snapshot_at
),

buckets as (
    -- The window's candle buckets: features never run ahead of the candles.
    {{ features_window_buckets() }}
),

usable as (
    -- Every snapshot taken before the bucket's end and young enough at that end.
    select
        buckets.exchange,
        buckets.market,
        buckets.symbol,
        buckets.bucket_start_at,
        snapshots.snapshot_at,
        snapshots.obi_depth_1pct,
        snapshots.obi_depth_2pct,
        snapshots.obi_depth_3pct,
        snapshots.obi_depth_4pct,
        snapshots.obi_depth_5pct
    from buckets
    {{ join_usable_snapshots('buckets', 'snapshots', sniper_var('depth_band_max_age_minutes')) }}
),

final as (
    select distinct on (exchange, market, symbol, bucket_start_at)
        exchange,
        market,
        symbol,
        bucket_start_at,
        snapshot_at as depth_snapshot_at,
        obi_depth_1pct,
        obi_depth_2pct,
        obi_depth_3pct,
        obi_depth_4pct,
        obi_depth_5pct
    from usable
    order by exchange asc, market asc, symbol asc, bucket_start_at asc, snapshot_at desc
)

select final.*
from final
{{- features_keep_materialized('final') }}
