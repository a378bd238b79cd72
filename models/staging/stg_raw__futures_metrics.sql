-- USD-M 5-minute metrics snapshots (metrics archives) under the names the features use.
-- A flat select, as every staging view here: callers' filters reach the raw indexes.
select
    exchange,
    market,
    symbol,
    ts as snapshot_at,
    sum_open_interest as open_interest,
    sum_open_interest_value as open_interest_value,
    count_toptrader_long_short_ratio as top_trader_account_long_short_ratio,
    sum_toptrader_long_short_ratio as top_trader_position_long_short_ratio,
    count_long_short_ratio as account_long_short_ratio,
    sum_taker_long_short_vol_ratio as taker_buy_sell_volume_ratio
from {{ source('raw', 'futures_metrics') }}
