-- One row per load into raw (an archive file, a recording, a live recorder's span): what it covered.
-- A flat select, as every staging view here: callers' filters reach the raw indexes.
select
    load_id,
    source_kind,
    source as source_name,
    exchange,
    market,
    symbol,
    data_kind,
    first_ts as first_event_at,
    last_ts as last_event_at,
    rows_loaded,
    rows_rejected,
    loaded_at
from {{ source('raw', 'load_ledger') }}
