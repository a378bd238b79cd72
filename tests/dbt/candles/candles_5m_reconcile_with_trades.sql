-- Assert per symbol and UTC day of the run's window, the 5m candles hold exactly the trades.
-- Same trade count, same volume (relative 1e-9); a day with trades but no candles fails too.
with candle_days as (
    select
        symbol,
        date_trunc('day', bucket_start_at, 'UTC') as day_start_at,
        sum(volume) as volume,
        sum(trade_count) as trade_count
    from {{ ref('candles_5m') }}
    group by symbol, date_trunc('day', bucket_start_at, 'UTC')
),

window_candle_days as (
    select * from candle_days
    where {{ window_test_filter('day_start_at', ref('candles_5m'), '5m') }}
),

window_days as (
    -- Every day from each symbol's first to its last day in the window, candles or not.
    select
        day_range.symbol,
        window_day.day_start_at
    from (
        select
            symbol,
            min(day_start_at) as first_day_start_at,
            max(day_start_at) as last_day_start_at
        from window_candle_days
        group by symbol
    ) as day_range
    cross join lateral generate_series(
        day_range.first_day_start_at, day_range.last_day_start_at, interval '1 day', 'UTC'
    ) as window_day (day_start_at)
),

trade_days as (
    select
        window_days.symbol,
        window_days.day_start_at,
        coalesce(sum(trades.qty), 0) as volume,
        count(trades.trade_id) as trade_count
    from window_days
    left join {{ ref('stg_raw__trades') }} as trades
        on
            window_days.symbol = trades.symbol
            and window_days.day_start_at <= trades.traded_at
            and date_add(window_days.day_start_at, interval '1 day', 'UTC') > trades.traded_at
    group by window_days.symbol, window_days.day_start_at
),

compared as (
    select
        trade_days.symbol,
        trade_days.day_start_at,
        coalesce(window_candle_days.volume, 0) as candle_volume,
        trade_days.volume as trade_volume,
        coalesce(window_candle_days.trade_count, 0) as candle_trade_count,
        trade_days.trade_count as trade_trade_count
    from trade_days
    left join window_candle_days
        on
            trade_days.symbol = window_candle_days.symbol
            and trade_days.day_start_at = window_candle_days.day_start_at
)

select *
from compared
where
    candle_trade_count <> trade_trade_count
    or abs(candle_volume - trade_volume) > 1e-9 * greatest(trade_volume, 1)
