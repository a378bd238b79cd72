-- No import CTEs, as in stg_raw__trades: a view with a WITH is never flattened into the
-- query that reads it, which hides the raw index's order and the partitions from callers.
select
    underlying,
    instrument,
    ts as snapshot_at,
    expiry_at,
    strike,
    option_type,
    open_interest,
    mark_price,
    mark_iv,
    delta,
    gamma,
    vega,
    underlying_price,
    contract_size,
    exchange
from {{ source('raw', 'options_chain') }}
