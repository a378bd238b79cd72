{{
    config(
        meta={'retention_timeframe': '5m'},
    )
}}

{%- set max_age_seconds = sniper_var('l1_quote_max_age_seconds') %}
{%- if max_age_seconds > 300 or max_age_seconds <= 0 %}
    {{ exceptions.raise_compiler_error('l1_quote_max_age_seconds must be in (0, 300], got ' ~ max_age_seconds) }}
{%- endif %}

with {{ window_bounds_cte('5m') }},

window_quotes as (
    -- The window's time range for all instruments (an instrument's own bounds are applied
    -- per bucket).
    {{ window_filter(ref('stg_raw__l1_quotes'), 'quoted_at') }}
),

range_starts as (
    select
        exchange,
        market,
        symbol,
        window_start_at as range_start_at
    from window_bounds
),

prior_quotes as (
    -- The last update before the range read (one index probe per instrument): the
    -- predecessor of the first update read (for e_n) and the state the first bucket starts in.
    select
        range_starts.exchange,
        range_starts.market,
        range_starts.symbol,
        range_starts.range_start_at,
        round(date_part('epoch', prior_quote.quoted_at) * 1000000) as quoted_us,
        array[prior_quote.bid_price, prior_quote.bid_qty, prior_quote.ask_price, prior_quote.ask_qty] as book,
        round(date_part('epoch', next_quote.quoted_at) * 1000000) as next_quoted_us
    from range_starts
    cross join
        lateral (
            select quotes.*
            from {{ ref('stg_raw__l1_quotes') }} as quotes
            where
                {{ same_instrument('quotes', 'range_starts') }}
                and quotes.quoted_at < range_starts.range_start_at
            order by quotes.quoted_at desc, quotes.update_id desc
            limit 1
        ) as prior_quote
    left join lateral (
        select quotes.quoted_at
        from {{ ref('stg_raw__l1_quotes') }} as quotes
        where
            {{ same_instrument('quotes', 'range_starts') }}
            and quotes.quoted_at >= range_starts.range_start_at
        order by quotes.quoted_at asc, quotes.update_id asc
        limit 1
    ) as next_quote on true
),

sequenced as (
    -- One ordered pass (the primary key's order, read from the index: no sort). The previous
    -- update's book, column by column (scalar lags cost a third of one array lag: no array
    -- built per update). Times are whole epoch microseconds in float8 (exact below 2^53).
    select
        exchange,
        market,
        symbol,
        round(date_part('epoch', quoted_at) * 1000000) as quoted_us,
        round(date_part('epoch', lead(quoted_at) over by_update) * 1000000) as next_quoted_us,
        bid_price,
        bid_qty,
        ask_price,
        ask_qty,
        {{ previous_or_prior('bid_price', 1) }} as previous_bid_price,
        {{ previous_or_prior('bid_qty', 2) }} as previous_bid_qty,
        {{ previous_or_prior('ask_price', 3) }} as previous_ask_price,
        {{ previous_or_prior('ask_qty', 4) }} as previous_ask_qty
    from window_quotes
    window by_update as (partition by exchange, market, symbol order by quoted_at, update_id)
),

events as (
    -- e_n of Cont, Kukanov and Stoikov (2014), eq. (10); null for an update without a
    -- predecessor.
    select
        exchange,
        market,
        symbol,
        floor(quoted_us / 300000000) * 300000000 as bucket_us,
        quoted_us,
        next_quoted_us,
        case
            when previous_bid_price is not null
                then
                    case when bid_price >= previous_bid_price then bid_qty else 0 end
                    - case when bid_price <= previous_bid_price then previous_bid_qty else 0 end
                    - case when ask_price <= previous_ask_price then ask_qty else 0 end
                    + case when ask_price >= previous_ask_price then previous_ask_qty else 0 end
        end as ofi_event,
        (bid_qty - ask_qty) / nullif(bid_qty + ask_qty, 0) as obi,
        (bid_qty + ask_qty) / 2 as l1_depth
    from sequenced
),

segments as (
    -- The state an update sets holds until the next update, but is trusted for at most
    -- l1_quote_max_age_seconds: the part inside its own bucket, and the part that spills
    -- into the next bucket (at most one, since the age is at most 5 minutes). Buckets are
    -- 300-second multiples of the epoch, the candles' 5-minute grid.
    select
        *,
        least(valid_until_us, bucket_us + 300000000) - quoted_us as own_us,
        greatest(valid_until_us - bucket_us - 300000000, 0) as spill_us,
        next_quoted_us is null or next_quoted_us >= bucket_us + 300000000 as is_last_in_bucket
    from (
        select
            *,
            least(
                coalesce(next_quoted_us, 'infinity'::float8), quoted_us + {{ max_age_seconds * 1000000 }}
            ) as valid_until_us
        from events
    ) as timed
),

bucket_sums as (
    -- Per bucket with updates; only its last update can spill into the next bucket.
    select
        exchange,
        market,
        symbol,
        bucket_us,
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
    group by exchange, market, symbol, bucket_us
),

prior_states as (
    -- The prior update's state, carried into the first bucket read until the first update read.
    select
        prior_quotes.exchange,
        prior_quotes.market,
        prior_quotes.symbol,
        round(date_part('epoch', prior_quotes.range_start_at) * 1000000) as range_start_us,
        (prior_quotes.book[2] - prior_quotes.book[4])
        / nullif(prior_quotes.book[2] + prior_quotes.book[4], 0) as obi,
        least(
            coalesce(prior_quotes.next_quoted_us, 'infinity'::float8),
            prior_quotes.quoted_us + {{ max_age_seconds * 1000000 }}
        ) - round(date_part('epoch', prior_quotes.range_start_at) * 1000000) as carried_us
    from prior_quotes
),

carried_in as (
    -- The state set by the last update of a bucket, carried into the next bucket; and the
    -- prior update's state, carried into the first bucket read until the first update read.
    select
        exchange,
        market,
        symbol,
        bucket_us + 300000000 as bucket_us,
        spilled_obi_us as obi_us,
        spilled_obi_covered_us as obi_covered_us,
        spilled_us as covered_us
    from bucket_sums
    where spilled_us > 0

    union all

    select
        exchange,
        market,
        symbol,
        range_start_us as bucket_us,
        obi * carried_us as obi_us,
        case when obi is not null then carried_us end as obi_covered_us,
        carried_us as covered_us
    from prior_states
    where carried_us > 0
),

carried as (
    select
        exchange,
        market,
        symbol,
        bucket_us,
        sum(obi_us) as obi_us,
        sum(obi_covered_us) as obi_covered_us,
        sum(covered_us) as covered_us
    from carried_in
    group by exchange, market, symbol, bucket_us
),

combined as (
    select
        coalesce(bucket_sums.exchange, carried.exchange) as exchange,
        coalesce(bucket_sums.market, carried.market) as market,
        coalesce(bucket_sums.symbol, carried.symbol) as symbol,
        to_timestamp(coalesce(bucket_sums.bucket_us, carried.bucket_us) / 1000000) as bucket_start_at,
        coalesce(bucket_sums.l1_update_count, 0) as l1_update_count,
        bucket_sums.ofi,
        bucket_sums.l1_avg_depth,
        bucket_sums.obi_l1_close,
        coalesce(bucket_sums.obi_us, 0) + coalesce(carried.obi_us, 0) as obi_us,
        coalesce(bucket_sums.obi_covered_us, 0) + coalesce(carried.obi_covered_us, 0) as obi_covered_us,
        coalesce(bucket_sums.covered_us, 0) + coalesce(carried.covered_us, 0) as covered_us
    from bucket_sums
    full outer join carried
        on
            {{ same_instrument('bucket_sums', 'carried') }}
            and bucket_sums.bucket_us = carried.bucket_us
),

candle_buckets as (
    -- The window's candle buckets: features never run ahead of the candles.
    {{ features_window_buckets() }}
),

final as (
    -- A bucket without any update has no OFI and no OBI, whatever state it inherited.
    select
        combined.exchange,
        combined.market,
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
        on
            {{ same_instrument('combined', 'candle_buckets') }}
            and combined.bucket_start_at = candle_buckets.bucket_start_at
)

select final.*
from final
{{- features_keep_materialized('final') }}
