-- No import CTEs, as in stg_raw__trades: a view with a WITH is never flattened into the
-- query that reads it, which hides the raw index's order and the partitions from callers.
select
    exchange,
    market,
    symbol,
    ts as snapshot_at,
    side,
    band_pct,
    depth,
    notional
from {{ source('raw', 'depth_bands') }}
