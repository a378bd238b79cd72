-- No import CTEs, as in stg_raw__trades: a view with a WITH is never flattened into the
-- query that reads it, which hides the raw index's order and the partitions from callers.
select
    exchange,
    market,
    symbol,
    interval as kline_interval,
    open_at,
    close_at,
    open,
    high,
    low,
    close,
    volume,
    quote_volume,
    trade_count,
    taker_buy_volume,
    taker_buy_quote_volume
from {{ source('raw', 'klines') }}
