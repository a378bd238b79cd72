-- No import CTEs, as in stg_raw__trades: PostgreSQL never flattens a view with a WITH into
-- the query that reads it, and the feature models need it flattened. Flattened, their
-- ordered passes over a window's quotes (OFI's previous update, the iceberg tape) read the
-- raw (symbol, ts, update_id) index in order; behind a WITH they sort 20 million rows on
-- disk per week of BTCUSDT (measured: features_l1_5m 48 s with the sort, bench_features).
select
    symbol,
    update_id,
    ts as quoted_at,
    bid_price,
    bid_qty,
    ask_price,
    ask_qty,
    exchange,
    market
from {{ source('raw', 'l1_quotes') }}
where market = '{{ var("market") }}'
