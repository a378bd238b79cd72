-- Binance USD-M futures archives beyond trades (`sniper ingest binance --market um --kind
-- bookTicker|bookDepth|metrics|fundingRate`, docs/ingest.md). bookTicker rows go to
-- raw.l1_quotes and bookDepth rows to raw.depth_bands, both as they are: the published
-- bookDepth bands (-5, -4, -3, -2, -1, -0.2, 0.2, 1 .. 5 percent) fit band_pct numeric(4, 2).
-- Two new tables hold what no table held yet. Neither is a tick-rate table (288 rows a
-- day, and about three a day), so neither is partitioned; each primary key leads with
-- (symbol, ts), so a reload adds nothing and one symbol's range reads an index range.
-- Checks as in 0007: every number finite and in its range ("x < 'infinity'" also refuses
-- NaN, which PostgreSQL sorts above infinity; a NULL optional ratio passes).

create table if not exists raw.futures_metrics (
    exchange text not null,
    market text not null,
    symbol text not null,
    ts timestamptz not null,
    sum_open_interest float8 not null,
    sum_open_interest_value float8 not null,
    count_toptrader_long_short_ratio float8,
    sum_toptrader_long_short_ratio float8,
    count_long_short_ratio float8,
    sum_taker_long_short_vol_ratio float8,
    primary key (symbol, ts, market, exchange),
    constraint futures_metrics_finite_values check (
        sum_open_interest >= 0 and sum_open_interest < 'infinity'
        and sum_open_interest_value >= 0 and sum_open_interest_value < 'infinity'
        and count_toptrader_long_short_ratio >= 0 and count_toptrader_long_short_ratio < 'infinity'
        and sum_toptrader_long_short_ratio >= 0 and sum_toptrader_long_short_ratio < 'infinity'
        and count_long_short_ratio >= 0 and count_long_short_ratio < 'infinity'
        and sum_taker_long_short_vol_ratio >= 0 and sum_taker_long_short_vol_ratio < 'infinity'
    )
);
comment on table raw.futures_metrics is
    'One row per symbol and 5-minute statistics snapshot of a USD-M contract (Binance metrics archive, '
    'columns as published): open interest and long/short ratios. ts is create_time (UTC).';
comment on column raw.futures_metrics.sum_open_interest is 'Open interest in contracts (base asset).';
comment on column raw.futures_metrics.sum_open_interest_value is 'Open interest in quote asset (USDT).';
comment on column raw.futures_metrics.count_toptrader_long_short_ratio is
    'Top traders'' long/short ratio by accounts, as published; NULL when the file leaves it empty.';
comment on column raw.futures_metrics.sum_toptrader_long_short_ratio is
    'Top traders'' long/short ratio by positions, as published; NULL when empty.';
comment on column raw.futures_metrics.count_long_short_ratio is
    'All accounts'' long/short ratio, as published; NULL when empty.';
comment on column raw.futures_metrics.sum_taker_long_short_vol_ratio is
    'Taker buy/sell volume ratio, as published; NULL when empty.';

create table if not exists raw.funding_rates (
    exchange text not null,
    market text not null,
    symbol text not null,
    ts timestamptz not null,
    funding_interval_hours smallint not null check (funding_interval_hours between 1 and 24),
    funding_rate float8 not null,
    primary key (symbol, ts, market, exchange),
    constraint funding_rates_finite_values check (funding_rate > -1 and funding_rate < 1)
);
comment on table raw.funding_rates is
    'One row per symbol and funding settlement of a USD-M perpetual (Binance fundingRate monthly archive). '
    'ts is calc_time (UTC, as published, a few ms after the hour).';
comment on column raw.funding_rates.funding_interval_hours is 'Hours the rate applies to (8, or 4 or 1 for some contracts).';
comment on column raw.funding_rates.funding_rate is
    'last_funding_rate as published: the fraction of position value longs pay shorts (negative: shorts pay).';
