-- Assert 1h candles (rolled up from 5m) equal 1h candles computed straight from the trades, over the run's window.
-- Compared: open and close (first and last trade by time, then trade id), high, low, volume, trade count.
-- The candles hold the trades up to the end of the instrument's newest built 5m bucket: a window
-- narrowed to minutes ends mid-hour (later trades are not in its candles yet), and a late bucket
-- rebuilt on its own lies before buckets of the same hour built earlier (their trades are in the
-- candle). One cutoff per instrument, not per hour: a per-hour join made this test a nested loop
-- over every trade of a 92-day window.
with hours as (
    select *
    from {{ ref('candles_1h') }}
    where
        not is_empty
        and {{ window_test_filter('bucket_start_at', '1h') }}
),

window_span as (
    select
        exchange,
        market,
        symbol,
        min(bucket_start_at) as first_hour_start_at,
        max(bucket_start_at) + interval '1 hour' as last_hour_end_at
    from hours
    group by exchange, market, symbol
),

built_through as (
    select
        five.exchange,
        five.market,
        five.symbol,
        max(five.bucket_start_at) + interval '5 minutes' as built_until_at
    from window_span
    inner join {{ ref('candles_5m') }} as five
        on
            {{ same_instrument('window_span', 'five') }}
            and window_span.first_hour_start_at <= five.bucket_start_at
            and window_span.last_hour_end_at > five.bucket_start_at
    group by five.exchange, five.market, five.symbol
),

from_trades as (
    -- One pass over the window's trades: hourly buckets straight from the ticks.
    select
        trades.exchange,
        trades.market,
        trades.symbol,
        date_trunc('hour', trades.traded_at, 'UTC') as bucket_start_at,
        max(trades.price) as high_price,
        min(trades.price) as low_price,
        sum(trades.qty) as volume,
        count(*) as trade_count,
        (array_agg(trades.price order by trades.traded_at asc, trades.trade_id asc))[1] as open_price,
        (array_agg(trades.price order by trades.traded_at desc, trades.trade_id desc))[1] as close_price
    from window_span
    inner join {{ ref('stg_raw__trades') }} as trades
        on
            {{ same_instrument('window_span', 'trades') }}
            and window_span.first_hour_start_at <= trades.traded_at
            and window_span.last_hour_end_at > trades.traded_at
    inner join built_through
        on
            {{ same_instrument('built_through', 'trades') }}
            and built_through.built_until_at > trades.traded_at
    group by trades.exchange, trades.market, trades.symbol, date_trunc('hour', trades.traded_at, 'UTC')
)

select
    hours.exchange,
    hours.market,
    hours.symbol,
    hours.bucket_start_at,
    hours.open,
    from_trades.open_price,
    hours.close,
    from_trades.close_price,
    hours.trade_count,
    from_trades.trade_count as trades_trade_count
from hours
left join from_trades
    on
        {{ same_instrument('hours', 'from_trades') }}
        and hours.bucket_start_at = from_trades.bucket_start_at
where
    from_trades.symbol is null
    or hours.open <> from_trades.open_price
    or hours.close <> from_trades.close_price
    or hours.high <> from_trades.high_price
    or hours.low <> from_trades.low_price
    or hours.trade_count <> from_trades.trade_count
    or abs(hours.volume - from_trades.volume) > 1e-9 * greatest(from_trades.volume, 1)
