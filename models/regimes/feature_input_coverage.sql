-- One row per instrument and calendar month with materialized 5m features: which inputs the
-- features had, as the share of the month's 5-minute buckets where each input was present.
-- A feature is no better than its input: OFI and L1 OBI need L1 quotes (the bookTicker
-- archive, which Binance stopped publishing after 2024-03-30, or the team's own recording),
-- depth OBI needs depth bands, whale CVD trades, gamma exposure options chains, open interest
-- and funding a USD-M contract's archives (docs/features.md, "Inputs and coverage").
-- The training reads it (python/training/coverage.py) to refuse a feature group whose input
-- is missing from its window; the report shows it per month.
with features as (
    select * from {{ ref('features_5m') }}
),

monthly as (
    select
        exchange,
        market,
        symbol,
        (date_trunc('month', bucket_start_at, 'UTC') at time zone 'UTC')::date as month_start_date,
        count(*) as bucket_count,
        avg(is_complete::int) as trades_coverage,
        avg(l1_coverage) as l1_coverage,
        avg((depth_snapshot_at is not null)::int) as depth_bands_coverage,
        avg((gamma_snapshot_at is not null)::int) as options_coverage,
        avg((open_interest_snapshot_at is not null)::int) as open_interest_coverage,
        avg((funding_settled_at is not null)::int) as funding_coverage
    from features
    group by exchange, market, symbol, (date_trunc('month', bucket_start_at, 'UTC') at time zone 'UTC')::date
),

final as (
    select
        exchange,
        market,
        symbol,
        month_start_date,
        bucket_count,
        trades_coverage::float8 as trades_coverage,
        l1_coverage::float8 as l1_coverage,
        depth_bands_coverage::float8 as depth_bands_coverage,
        options_coverage::float8 as options_coverage,
        open_interest_coverage::float8 as open_interest_coverage,
        funding_coverage::float8 as funding_coverage,
        trades_coverage > 0 as has_trades,
        l1_coverage > 0 as has_l1,
        depth_bands_coverage > 0 as has_depth_bands,
        options_coverage > 0 as has_options,
        open_interest_coverage > 0 as has_open_interest,
        funding_coverage > 0 as has_funding
    from monthly
)

select * from final
