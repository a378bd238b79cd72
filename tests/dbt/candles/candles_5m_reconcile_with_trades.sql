-- Assert per instrument and UTC day of the run's window, the 5m candles hold exactly the trades.
-- Same trade count, same volume (relative 1e-9); a day with trades but no candles fails too.
-- Both sides are read for the window only, so the test's cost follows the window, not the history;
-- a window narrowed to minutes (the live materialization) compares the part of the day it built.
with window_candle_days as (
    select
        exchange,
        market,
        symbol,
        date_trunc('day', bucket_start_at, 'UTC') as day_start_at,
        sum(volume) as volume,
        sum(trade_count) as trade_count
    from {{ ref('candles_5m') }}
    where {{ window_test_filter('bucket_start_at') }}
    group by exchange, market, symbol, date_trunc('day', bucket_start_at, 'UTC')
),

day_range as (
    select
        exchange,
        market,
        symbol,
        min(day_start_at) as first_day_start_at,
        max(day_start_at) as last_day_start_at
    from window_candle_days
    group by exchange, market, symbol
),

window_days as (
    -- Every day from each instrument's first to its last day in the window, candles or not.
    select
        day_range.exchange,
        day_range.market,
        day_range.symbol,
        window_day.day_start_at
    from day_range
    cross join lateral generate_series(
        day_range.first_day_start_at, day_range.last_day_start_at, interval '1 day', 'UTC'
    ) as window_day (day_start_at)
),

trade_days as (
    -- One pass over the trades of the window's days (bounds as init plans, so only the
    -- window's weekly partitions are scanned).
    select
        exchange,
        market,
        symbol,
        date_trunc('day', traded_at, 'UTC') as day_start_at,
        sum(qty) as volume,
        count(*) as trade_count
    from {{ ref('stg_raw__trades') }}
    where
        traded_at >= greatest((select min(day_range.first_day_start_at) from day_range), {{ window_literal('start') }})
        and traded_at < least(
            (select date_add(max(day_range.last_day_start_at), interval '1 day', 'UTC') from day_range),
            {{ window_literal('end') }}
        )
    group by exchange, market, symbol, date_trunc('day', traded_at, 'UTC')
),

compared as (
    select
        window_days.exchange,
        window_days.market,
        window_days.symbol,
        window_days.day_start_at,
        coalesce(window_candle_days.volume, 0) as candle_volume,
        coalesce(trade_days.volume, 0) as trade_volume,
        coalesce(window_candle_days.trade_count, 0) as candle_trade_count,
        coalesce(trade_days.trade_count, 0) as trade_trade_count
    from window_days
    left join trade_days
        on
            {{ same_instrument('window_days', 'trade_days') }}
            and window_days.day_start_at = trade_days.day_start_at
    left join window_candle_days
        on
            {{ same_instrument('window_days', 'window_candle_days') }}
            and window_days.day_start_at = window_candle_days.day_start_at
)

select *
from compared
where
    candle_trade_count <> trade_trade_count
    or abs(candle_volume - trade_volume) > 1e-9 * greatest(trade_volume, 1)
