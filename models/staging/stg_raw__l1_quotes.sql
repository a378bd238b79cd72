-- No import CTEs, as in stg_raw__trades: PostgreSQL never flattens a view with a WITH into
-- the query that reads it. Flattened, features_l1_5m's ordered pass over a window's quotes
-- (each update against the one before) reads the raw (symbol, ts, update_id) index in
-- order; behind the WITH it sorted the week's 20 million BTCUSDT quotes on disk first
-- (3 x 430 MB external merge; bench/bench_features.py, docs/features.md).
select
    exchange,
    market,
    symbol,
    update_id,
    ts as quoted_at,
    bid_price,
    bid_qty,
    ask_price,
    ask_qty
from {{ source('raw', 'l1_quotes') }}
