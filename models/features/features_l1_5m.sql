{{
    config(
        materialized='incremental',
        unique_key=['symbol', 'bucket_start_at'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{%- set max_age_seconds = var('l1_quote_max_age_seconds') %}
{%- if max_age_seconds > 300 or max_age_seconds <= 0 %}
    {{ exceptions.raise_compiler_error('l1_quote_max_age_seconds must be in (0, 300], got ' ~ max_age_seconds) }}
{%- endif %}

with windows as (
    {{ features_windows() }}
),

quotes as (
    -- The window, plus a lookback so that the window's first update has its predecessor.
    select
        quotes.symbol,
        quotes.update_id,
        quotes.quoted_at,
        quotes.bid_price,
        quotes.bid_qty,
        quotes.ask_price,
        quotes.ask_qty,
        windows.window_start_at,
        windows.window_end_at
    from {{ ref('stg_raw__l1_quotes') }} as quotes
    inner join windows
        on
            quotes.symbol = windows.symbol
            and quotes.quoted_at >= windows.window_start_at - interval '{{ var("l1_quote_lookback_minutes") }} minutes'
            and quotes.quoted_at < windows.window_end_at
),

sequenced as (
    select
        *,
        {{ features_bucket('quoted_at') }} as bucket_start_at,
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
        case when bid_price >= previous_bid_price then bid_qty else 0 end
        - case when bid_price <= previous_bid_price then previous_bid_qty else 0 end
        - case when ask_price <= previous_ask_price then ask_qty else 0 end
        + case when ask_price >= previous_ask_price then previous_ask_qty else 0 end as ofi_event,
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
    select
        *,
        extract(
            epoch from least(valid_until, bucket_start_at + interval '5 minutes') - quoted_at
        )::float8 as own_seconds,
        greatest(
            extract(epoch from valid_until - (bucket_start_at + interval '5 minutes'))::float8, 0
        ) as spill_seconds
    from events
),

own_buckets as (
    select
        symbol,
        bucket_start_at,
        count(*) as l1_update_count,
        sum(ofi_event) as ofi,
        avg(l1_depth) as l1_avg_depth,
        sum(obi * own_seconds) as obi_seconds,
        sum(own_seconds) filter (where obi is not null) as obi_covered_seconds,
        sum(own_seconds) as covered_seconds,
        max(obi) filter (where is_last_in_bucket) as obi_l1_close
    from segments
    where bucket_start_at >= window_start_at
    group by symbol, bucket_start_at
),

carried_in as (
    -- The state set by the last update of a bucket, carried into the next bucket.
    select
        symbol,
        bucket_start_at + interval '5 minutes' as bucket_start_at,
        sum(obi * spill_seconds) as obi_seconds,
        sum(spill_seconds) filter (where obi is not null) as obi_covered_seconds,
        sum(spill_seconds) as covered_seconds
    from segments
    where
        spill_seconds > 0
        and bucket_start_at + interval '5 minutes' >= window_start_at
        and bucket_start_at + interval '5 minutes' < window_end_at
    group by symbol, bucket_start_at + interval '5 minutes'
),

combined as (
    select
        coalesce(own_buckets.symbol, carried_in.symbol) as symbol,
        coalesce(own_buckets.bucket_start_at, carried_in.bucket_start_at) as bucket_start_at,
        coalesce(own_buckets.l1_update_count, 0) as l1_update_count,
        own_buckets.ofi,
        own_buckets.l1_avg_depth,
        own_buckets.obi_l1_close,
        coalesce(own_buckets.obi_seconds, 0) + coalesce(carried_in.obi_seconds, 0) as obi_seconds,
        coalesce(own_buckets.obi_covered_seconds, 0)
        + coalesce(carried_in.obi_covered_seconds, 0) as obi_covered_seconds,
        coalesce(own_buckets.covered_seconds, 0) + coalesce(carried_in.covered_seconds, 0) as covered_seconds
    from own_buckets
    full outer join carried_in
        on
            own_buckets.symbol = carried_in.symbol
            and own_buckets.bucket_start_at = carried_in.bucket_start_at
),

final as (
    -- A bucket without any update has no OFI and no OBI, whatever state it inherited.
    select
        symbol,
        bucket_start_at,
        l1_update_count,
        covered_seconds / 300.0 as l1_coverage,
        ofi,
        l1_avg_depth,
        ofi / nullif(l1_avg_depth, 0) as ofi_normalized,
        case
            when l1_update_count > 0 then obi_seconds / nullif(obi_covered_seconds, 0)
        end as obi_l1_twap,
        obi_l1_close
    from combined
)

select * from final
