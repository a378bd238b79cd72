-- Assert our complete candles equal the exchange's klines of the same instrument, timeframe and open time.
-- Over the run's window; where no kline is loaded there is nothing to compare.
with klines as (
    select
        exchange,
        market,
        symbol,
        case kline_interval when '1M' then '1mo' else kline_interval end as timeframe,
        open_at,
        open,
        high,
        low,
        close,
        volume,
        quote_volume,
        trade_count,
        taker_buy_volume
    from {{ ref('stg_raw__klines') }}
    where {{ window_test_filter('open_at', '1mo') }}
),

candles as (
    select * from {{ ref('candles_all') }}
    where is_complete and not is_empty
)

select
    klines.exchange,
    klines.market,
    klines.symbol,
    klines.timeframe,
    klines.open_at,
    candles.open,
    klines.open as kline_open,
    candles.close,
    klines.close as kline_close,
    candles.trade_count,
    klines.trade_count as kline_trade_count
from klines
inner join candles
    on
        {{ same_instrument('klines', 'candles') }}
        and klines.timeframe = candles.timeframe
        and klines.open_at = candles.bucket_start_at
where
    abs(candles.open - klines.open) > 1e-9 * klines.open
    or abs(candles.high - klines.high) > 1e-9 * klines.high
    or abs(candles.low - klines.low) > 1e-9 * klines.low
    or abs(candles.close - klines.close) > 1e-9 * klines.close
    or abs(candles.volume - klines.volume) > 1e-6 * greatest(klines.volume, 1e-8)
    or abs(candles.quote_volume - klines.quote_volume) > 1e-6 * greatest(klines.quote_volume, 1e-8)
    or abs(candles.taker_buy_volume - klines.taker_buy_volume) > 1e-6 * greatest(klines.taker_buy_volume, 1e-8)
    or candles.trade_count <> klines.trade_count
