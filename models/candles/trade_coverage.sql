{{ config(materialized='view') }}

-- The time in which an instrument's trades are all there, so that a bucket without a
-- trade really had none: every covering load's span (raw.load_ledger), then spans that
-- overlap or meet (within coverage_merge_gap_seconds) merged into one, per instrument. Two
-- recordings that follow each other cover the bucket across their seam.
with load_spans as (
    select * from {{ ref('int_coverage__load_spans') }}
),

flagged as (
    -- A span opens a new island when it starts after every earlier span of the instrument
    -- has ended (plus the merge gap). A live recorder's span (source_kind 'live',
    -- python/live/spans.py) is the exact time it was connected: one that starts after the
    -- previous one ended, by however little, leaves a gap.
    select
        exchange,
        market,
        symbol,
        covered_from_at,
        covered_until_at,
        coalesce(
            covered_from_at > max(covered_until_at) over (
                partition by exchange, market, symbol
                order by covered_from_at, covered_until_at
                rows between unbounded preceding and 1 preceding
            ) + case
                when source_kind = 'live' then interval '0 seconds'
                else interval '{{ sniper_var('coverage_merge_gap_seconds') }} seconds'
            end,
            true
        ) as opens_island
    from load_spans
),

islands as (
    select
        exchange,
        market,
        symbol,
        covered_from_at,
        covered_until_at,
        count(*) filter (where opens_island) over (
            partition by exchange, market, symbol
            order by covered_from_at, covered_until_at
            rows unbounded preceding
        ) as island_number
    from flagged
),

merged as (
    select
        exchange,
        market,
        symbol,
        min(covered_from_at) as covered_from_at,
        max(covered_until_at) as covered_until_at,
        count(*) as load_count
    from islands
    group by exchange, market, symbol, island_number
)

select * from merged
