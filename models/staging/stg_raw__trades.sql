-- No import CTEs here, on purpose: PostgreSQL never flattens a view that has a WITH into
-- the query that reads it, and the candles need this view flattened. Flattened, a
-- caller's ORDER BY traded_at, trade_id LIMIT 1 walks the raw (symbol, ts, trade_id)
-- index (first and last trade of a bucket: one index probe each) and min(traded_at) per
-- instrument is an index probe, not a scan.
--
-- Deduplication happens at load time, not here. The raw primary key (symbol, ts,
-- trade_id, market, exchange) and the loaders' `on conflict do nothing` make a trade
-- loaded twice one row. A DISTINCT ON (or a window, or a correlated NOT EXISTS) here
-- would cost what the candles need most: the caller's predicate on traded_at reaching
-- the weekly partitions, and parallel scans. The one duplicate the key lets through, the
-- same exchange trade id at two timestamp precisions (a millisecond websocket recording
-- and a microsecond archive of the same trades, docs/ingest.md), is caught by the unique
-- test on (exchange, market, symbol, trade_id) over the run's window (_staging__models.yml).
-- Every market is here: each instrument (exchange, market, symbol) is its own key downstream.
select
    exchange,
    market,
    symbol,
    trade_id,
    ts as traded_at,
    price,
    qty,
    quote_qty,
    is_buyer_maker
from {{ source('raw', 'trades') }}
