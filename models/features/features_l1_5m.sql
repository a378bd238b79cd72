{{
    config(
        materialized='incremental',
        unique_key=['symbol', 'bucket_start_at'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[{'columns': ['symbol', 'bucket_start_at'], 'unique': true}],
        pre_hook="{{ features_window_hint() }}",
    )
}}

{%- set max_age_seconds = var('l1_quote_max_age_seconds') %}
{%- if max_age_seconds > 300 or max_age_seconds <= 0 %}
    {{ exceptions.raise_compiler_error('l1_quote_max_age_seconds must be in (0, 300], got ' ~ max_age_seconds) }}
{%- endif %}

with window_bounds as (
    {{ features_window_bounds() }}
),

window_quotes as (
    {{ window_filter(ref('stg_raw__l1_quotes'), 'quoted_at') }}
),

prior_quotes as (
    -- The last update before each symbol's window: the predecessor of the window's first
    -- update (e_n) and the state the first bucket starts in. One index probe per symbol.
    select prior_quote.*
    from window_bounds
    cross join lateral (
        select quotes.*
        from {{ ref('stg_raw__l1_quotes') }} as quotes
        where
            quotes.symbol = window_bounds.symbol
            and quotes.quoted_at < window_bounds.window_start_at
        order by quotes.quoted_at desc, quotes.update_id desc
        limit 1
    ) as prior_quote
),

quotes as (
    select
        quotes.symbol,
        quotes.update_id,
        quotes.quoted_at,
        quotes.bid_price,
        quotes.bid_qty,
        quotes.ask_price,
        quotes.ask_qty,
        window_bounds.window_start_at,
        window_bounds.window_end_at
    from (
        select * from window_quotes
        union all
        select * from prior_quotes
    ) as quotes
    inner join window_bounds on quotes.symbol = window_bounds.symbol
),

sequenced as (
    select
        *,
        {{ bucket_start('5m', 'quoted_at') }} as bucket_start_at,
        lag(bid_price) over by_update as previous_bid_price,
        lag(bid_qty) over by_update as previous_bid_qty,
        lag(ask_price) over by_update as previous_ask_price,
        lag(ask_qty) over by_update as previous_ask_qty,
        lead(quoted_at) over by_update as next_quoted_at
    from quotes
    window by_update as (partition by symbol order by quoted_at, update_id)
),

events as (
    -- e_n of Cont, Kukanov and Stoikov (2014), eq. (10); null for an update without a predecessor.
    select
        symbol,
        bucket_start_at,
        window_start_at,
        window_end_at,
        case
            when previous_bid_price is not null
                then
                    case when bid_price >= previous_bid_price then bid_qty else 0 end
                    - case when bid_price <= previous_bid_price then previous_bid_qty else 0 end
                    - case when ask_price <= previous_ask_price then ask_qty else 0 end
                    + case when ask_price >= previous_ask_price then previous_ask_qty else 0 end
        end as ofi_event,
        (bid_qty - ask_qty) / nullif(bid_qty + ask_qty, 0) as obi,
        (bid_qty + ask_qty) / 2 as l1_depth,
        next_quoted_at is null
        or next_quoted_at >= bucket_start_at + interval '5 minutes' as is_last_in_bucket,
        -- The state this update sets holds until the next update, but is trusted for at
        -- most l1_quote_max_age_seconds: the part inside its own bucket, and the part that
        -- spills into the next bucket (at most one, since the age is at most 5 minutes).
        least(
            coalesce(next_quoted_at, 'infinity'::timestamptz),
            quoted_at + interval '{{ max_age_seconds }} seconds'
        ) as valid_until,
        quoted_at
    from sequenced
),

segments as (
    -- Durations in whole microseconds (float8 sums of whole numbers are exact here).
    select
        *,
        round(
            date_part('epoch', least(valid_until, bucket_start_at + interval '5 minutes') - quoted_at) * 1000000
        ) as own_us,
        greatest(
            round(date_part('epoch', valid_until - (bucket_start_at + interval '5 minutes')) * 1000000), 0
        ) as spill_us
    from events
),

bucket_sums as (
    -- Per bucket with updates; only its last update can spill into the next bucket.
    select
        symbol,
        bucket_start_at,
        min(window_start_at) as window_start_at,
        min(window_end_at) as window_end_at,
        count(*) as l1_update_count,
        sum(ofi_event) as ofi,
        avg(l1_depth) as l1_avg_depth,
        sum(obi * own_us) as obi_us,
        sum(own_us) filter (where obi is not null) as obi_covered_us,
        sum(own_us) as covered_us,
        max(obi) filter (where is_last_in_bucket) as obi_l1_close,
        sum(obi * spill_us) as spilled_obi_us,
        sum(spill_us) filter (where obi is not null) as spilled_obi_covered_us,
        sum(spill_us) as spilled_us
    from segments
    group by symbol, bucket_start_at
),

own_buckets as (
    select * from bucket_sums
    where bucket_start_at >= window_start_at
),

carried_in as (
    -- The state set by the last update of a bucket, carried into the next bucket.
    select
        symbol,
        bucket_start_at + interval '5 minutes' as bucket_start_at,
        spilled_obi_us as obi_us,
        spilled_obi_covered_us as obi_covered_us,
        spilled_us as covered_us
    from bucket_sums
    where
        spilled_us > 0
        and bucket_start_at + interval '5 minutes' >= window_start_at
        and bucket_start_at + interval '5 minutes' < window_end_at
),

combined as (
    select
        coalesce(own_buckets.symbol, carried_in.symbol) as symbol,
        coalesce(own_buckets.bucket_start_at, carried_in.bucket_start_at) as bucket_start_at,
        coalesce(own_buckets.l1_update_count, 0) as l1_update_count,
        own_buckets.ofi,
        own_buckets.l1_avg_depth,
        own_buckets.obi_l1_close,
        coalesce(own_buckets.obi_us, 0) + coalesce(carried_in.obi_us, 0) as obi_us,
        coalesce(own_buckets.obi_covered_us, 0) + coalesce(carried_in.obi_covered_us, 0) as obi_covered_us,
        coalesce(own_buckets.covered_us, 0) + coalesce(carried_in.covered_us, 0) as covered_us
    from own_buckets
    full outer join carried_in
        on
            own_buckets.symbol = carried_in.symbol
            and own_buckets.bucket_start_at = carried_in.bucket_start_at
),

candle_buckets as (
    -- The window's candle buckets: features never run ahead of the candles.
    select
        candles.symbol,
        candles.bucket_start_at
    from {{ ref('candles_5m') }} as candles
    inner join window_bounds
        on
            candles.symbol = window_bounds.symbol
            and candles.bucket_start_at >= window_bounds.window_start_at
            and candles.bucket_start_at < window_bounds.window_end_at
),

final as (
    -- A bucket without any update has no OFI and no OBI, whatever state it inherited.
    select
        combined.symbol,
        combined.bucket_start_at,
        combined.l1_update_count,
        combined.covered_us / 300000000.0 as l1_coverage,
        combined.ofi,
        combined.l1_avg_depth,
        combined.ofi / nullif(combined.l1_avg_depth, 0) as ofi_normalized,
        case
            when combined.l1_update_count > 0 then combined.obi_us / nullif(combined.obi_covered_us, 0)
        end as obi_l1_twap,
        combined.obi_l1_close
    from combined
    inner join candle_buckets
        on combined.symbol = candle_buckets.symbol and combined.bucket_start_at = candle_buckets.bucket_start_at
)

select final.*
from final
{{- features_keep_materialized('final') }}
