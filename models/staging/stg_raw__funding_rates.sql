-- USD-M funding settlements (fundingRate archives): settled_at is the settlement time.
-- A flat select, as every staging view here: callers' filters reach the raw indexes.
select
    exchange,
    market,
    symbol,
    ts as settled_at,
    funding_interval_hours,
    funding_rate
from {{ source('raw', 'funding_rates') }}
