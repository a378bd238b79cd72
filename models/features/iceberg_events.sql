{{
    config(
        unique_key=['exchange', 'market', 'symbol', 'side', 'first_seen_at'],
        meta={'retention_timeframe': '5m'},
        indexes=[{'columns': ['exchange', 'market', 'symbol', 'bucket_start_at']}],
    )
}}

with window_bounds as not materialized (
    -- Follows the level intervals: from the day of the last event materialized to the end
    -- of what the intervals hold (or the explicit window).
    {{ window_bounds('5m') }}
),

intervals as (
    select * from {{ ref('int_features__iceberg_intervals') }}
),

touched as (
    -- The levels the window saw; each is rebuilt from all its intervals, also those of
    -- earlier windows, so a level that spans two windows is one event.
    select distinct
        intervals.exchange,
        intervals.market,
        intervals.symbol,
        intervals.side,
        intervals.episode_started_at
    from intervals
    inner join window_bounds
        on
            {{ same_instrument('intervals', 'window_bounds') }}
            and intervals.quoted_at >= window_bounds.window_start_at
            and intervals.quoted_at < window_bounds.window_end_at
),

level_intervals as (
    select intervals.*
    from intervals
    inner join touched
        on
            {{ same_instrument('intervals', 'touched') }}
            and intervals.side = touched.side
            and intervals.episode_started_at = touched.episode_started_at
),

events as (
    select
        exchange,
        market,
        symbol,
        side,
        episode_started_at as first_seen_at,
        max(price) as price,
        min(quoted_at) filter (where is_confirmed) as confirmed_at,
        max(quoted_at) as last_seen_at,
        sum(executed_qty) as executed_volume,
        max(max_displayed_to_date) as max_displayed_qty,
        count(*) filter (where is_refill) as refill_count,
        coalesce(sum(hidden_qty_added), 0) as hidden_volume,
        avg((displayed_after = displayed_before)::int::float8) filter (where is_refill) as same_size_refill_share
    from level_intervals
    group by exchange, market, symbol, side, episode_started_at
),

final as (
    -- Confidence: each refill could be a coincidence (a new order joining as the level
    -- empties) with probability one half; refills of exactly the same size, the mark of
    -- an iceberg's fixed clip, count fully, others half.
    select
        exchange,
        market,
        symbol,
        side,
        price,
        first_seen_at,
        {{ bucket_start('5m', 'first_seen_at') }} as bucket_start_at,
        confirmed_at,
        last_seen_at,
        executed_volume,
        max_displayed_qty,
        hidden_volume,
        refill_count,
        (1 - power(0.5, refill_count::float8)) * (0.5 + 0.5 * same_size_refill_share) as confidence
    from events
)

select * from final
