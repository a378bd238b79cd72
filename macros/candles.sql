{#- Candles: every timeframe is one of two macros, never a copy of SQL.

    candles_from_ticks(timeframe)   candles straight from the trades (candles_5m): the only
                                    model that reads ticks, once per run.
    candles_rollup(timeframe, from_candles, from_timeframe)
                                    candles rolled up from a finer candle model.

    Both produce the contract columns (docs/candles.md): exchange, market, symbol,
    bucket_start_at, open,
    high, low, close, volume, quote_volume, trade_count, taker_buy_volume,
    taker_sell_volume, vwap, first_trade_id, last_trade_id, is_complete, is_empty. -#}

{% macro candles_from_ticks(timeframe) -%}
{%- set trades = ref('stg_raw__trades') -%}
{%- set coverage = ref('trade_coverage') -%}
with

{{ window_bounds_cte(timeframe) }},

window_trades as (
    -- The window's trades with their bucket. Nested on purpose: the planner does not
    -- flatten a CTE that has its own WITH, so it has no statistics for bucket_start_at and
    -- expects few buckets (not one per distinct timestamp); that is what makes it aggregate
    -- in parallel workers, each over its share.
    with windowed_trades as (
        select
            window_trades.exchange,
            window_trades.market,
            window_trades.symbol,
            {{ bucket_start(timeframe, 'window_trades.traded_at') }} as bucket_start_at,
            window_trades.price,
            window_trades.qty,
            window_trades.quote_qty,
            window_trades.is_buyer_maker
        from ({{ window_filter(trades, 'traded_at') }}) as window_trades
    )

    select * from windowed_trades
),

window_trade_buckets as (
    -- Sorts nothing: open, close and their trade ids are looked up afterwards, per bucket.
    select
        exchange,
        market,
        symbol,
        bucket_start_at,
        max(price) as high,
        min(price) as low,
        sum(quote_qty) as quote_volume,
        count(*) as trade_count,
        coalesce(sum(qty) filter (where not is_buyer_maker), 0) as taker_buy_volume,
        coalesce(sum(qty) filter (where is_buyer_maker), 0) as taker_sell_volume
    from window_trades
    group by exchange, market, symbol, bucket_start_at
),

coverage as (
    select covered.*
    from {{ coverage }} as covered
    inner join window_bounds
        on
            {{ same_instrument('covered', 'window_bounds') }}
            and covered.covered_from_at < window_bounds.window_end_at
            and covered.covered_until_at > window_bounds.window_start_at
),

covered_buckets as (
    -- Every bucket whose whole span lies in loaded time, traded in or not.
    select distinct
        coverage.exchange,
        coverage.market,
        coverage.symbol,
        covered_bucket.bucket_start_at
    from coverage
    inner join window_bounds on {{ same_instrument('coverage', 'window_bounds') }}
    cross join lateral generate_series(
        {{ bucket_start(timeframe,
            "greatest(coverage.covered_from_at, window_bounds.window_start_at) + "
            ~ timeframe_interval(timeframe) ~ " - interval '1 microsecond'") }},
        least(coverage.covered_until_at, window_bounds.window_end_at) - {{ timeframe_interval(timeframe) }},
        {{ timeframe_interval(timeframe) }}
    ) as covered_bucket (bucket_start_at)
),

buckets as (
    select
        coalesce(window_trade_buckets.exchange, covered_buckets.exchange) as exchange,
        coalesce(window_trade_buckets.market, covered_buckets.market) as market,
        coalesce(window_trade_buckets.symbol, covered_buckets.symbol) as symbol,
        coalesce(window_trade_buckets.bucket_start_at, covered_buckets.bucket_start_at) as bucket_start_at,
        window_trade_buckets.high,
        window_trade_buckets.low,
        coalesce(window_trade_buckets.quote_volume, 0) as quote_volume,
        coalesce(window_trade_buckets.trade_count, 0) as trade_count,
        coalesce(window_trade_buckets.taker_buy_volume, 0) as taker_buy_volume,
        coalesce(window_trade_buckets.taker_sell_volume, 0) as taker_sell_volume,
        window_trade_buckets.symbol is null as is_empty,
        covered_buckets.symbol is not null as is_complete
    from window_trade_buckets
    full outer join covered_buckets
        on
            {{ same_instrument('window_trade_buckets', 'covered_buckets') }}
            and window_trade_buckets.bucket_start_at = covered_buckets.bucket_start_at
),

opened_and_closed as (
    -- First and last trade by (time, trade id): the first and last entries of the raw
    -- primary key (symbol, ts, trade_id, ...) inside the bucket, one index probe each.
    select
        buckets.*,
        first_trade.price as open,
        first_trade.trade_id as first_trade_id,
        last_trade.price as close,
        last_trade.trade_id as last_trade_id
    from buckets
    left join lateral (
        select
            bucket_trades.price,
            bucket_trades.trade_id
        from {{ trades }} as bucket_trades
        where
            not buckets.is_empty
            and {{ same_instrument('bucket_trades', 'buckets') }}
            and bucket_trades.traded_at >= buckets.bucket_start_at
            and bucket_trades.traded_at < {{ bucket_end(timeframe, 'buckets.bucket_start_at') }}
        order by bucket_trades.traded_at asc, bucket_trades.trade_id asc
        limit 1
    ) as first_trade on true
    left join lateral (
        select
            bucket_trades.price,
            bucket_trades.trade_id
        from {{ trades }} as bucket_trades
        where
            not buckets.is_empty
            and {{ same_instrument('bucket_trades', 'buckets') }}
            and bucket_trades.traded_at >= buckets.bucket_start_at
            and bucket_trades.traded_at < {{ bucket_end(timeframe, 'buckets.bucket_start_at') }}
        order by bucket_trades.traded_at desc, bucket_trades.trade_id desc
        limit 1
    ) as last_trade on true
),

prior_closes as materialized (
    -- The last trade before each instrument's window: what an empty bucket at the window's
    -- start carries, whatever is materialized before it. Materialized: one index probe per
    -- instrument, not one per bucket.
    select
        window_bounds.exchange,
        window_bounds.market,
        window_bounds.symbol,
        prior_trade.price as prior_close
    from window_bounds
    left join lateral (
        select earlier_trades.price
        from {{ trades }} as earlier_trades
        where
            {{ same_instrument('earlier_trades', 'window_bounds') }}
            and earlier_trades.traded_at < window_bounds.window_start_at
        order by earlier_trades.traded_at desc, earlier_trades.trade_id desc
        limit 1
    ) as prior_trade on true
),

close_runs as (
    -- A run is a traded bucket and the empty buckets after it.
    select
        opened_and_closed.*,
        count(opened_and_closed.close) over by_time as close_run
    from opened_and_closed
    window by_time as (
        partition by opened_and_closed.exchange, opened_and_closed.market, opened_and_closed.symbol
        order by opened_and_closed.bucket_start_at
    )
),

carried as (
    select
        close_runs.*,
        coalesce(
            first_value(close_runs.close) over (
                partition by close_runs.exchange, close_runs.market, close_runs.symbol, close_runs.close_run
                order by close_runs.bucket_start_at
            ),
            prior_closes.prior_close
        ) as carried_close
    from close_runs
    inner join prior_closes on {{ same_instrument('close_runs', 'prior_closes') }}
),

final as (
    select
        exchange,
        market,
        symbol,
        bucket_start_at,
        case when is_empty then carried_close else open end as open,
        case when is_empty then carried_close else high end as high,
        case when is_empty then carried_close else low end as low,
        case when is_empty then carried_close else close end as close,
        taker_buy_volume + taker_sell_volume as volume,
        quote_volume,
        trade_count,
        taker_buy_volume,
        taker_sell_volume,
        quote_volume / nullif(taker_buy_volume + taker_sell_volume, 0) as vwap,
        first_trade_id,
        last_trade_id,
        is_complete,
        is_empty
    from carried
)

select final.*
from final
{%- if is_incremental() and not force_recompute_var() %}
where not exists (
    -- force_recompute=false: a bucket already materialized stays exactly as it is.
    select 1
    from {{ this }} as materialized
    where
        {{ same_instrument('materialized', 'final') }}
        and materialized.bucket_start_at = final.bucket_start_at
)
{%- endif %}
{%- endmacro %}

{% macro candles_rollup(timeframe, from_candles, from_timeframe) -%}
with

{{ window_bounds_cte(timeframe) }},

children as (
    select
        finer.*,
        {{ bucket_start(timeframe, 'finer.bucket_start_at') }} as parent_start_at
    from {{ from_candles }} as finer
    inner join window_bounds
        on
            {{ same_instrument('finer', 'window_bounds') }}
            and finer.bucket_start_at >= window_bounds.window_start_at
            and finer.bucket_start_at < window_bounds.window_end_at
),

parents as (
    -- A parent holds few children (at most 288): ordered aggregates are cheap here.
    select
        exchange,
        market,
        symbol,
        parent_start_at as bucket_start_at,
        (array_agg(open order by bucket_start_at) filter (where not is_empty))[1] as open,
        max(high) filter (where not is_empty) as high,
        min(low) filter (where not is_empty) as low,
        (array_agg(close order by bucket_start_at desc) filter (where not is_empty))[1] as close,
        (array_agg(open order by bucket_start_at))[1] as carried_close,
        sum(volume) as volume,
        sum(quote_volume) as quote_volume,
        sum(trade_count)::bigint as trade_count,
        sum(taker_buy_volume) as taker_buy_volume,
        sum(taker_sell_volume) as taker_sell_volume,
        (array_agg(first_trade_id order by bucket_start_at) filter (where not is_empty))[1] as first_trade_id,
        (array_agg(last_trade_id order by bucket_start_at desc) filter (where not is_empty))[1] as last_trade_id,
        count(*) as child_count,
        bool_and(is_complete) as are_children_complete,
        bool_and(is_empty) as is_empty
    from children
    group by exchange, market, symbol, parent_start_at
),

final as (
    select
        exchange,
        market,
        symbol,
        bucket_start_at,
        case when is_empty then carried_close else open end as open,
        case when is_empty then carried_close else high end as high,
        case when is_empty then carried_close else low end as low,
        case when is_empty then carried_close else close end as close,
        volume,
        quote_volume,
        trade_count,
        taker_buy_volume,
        taker_sell_volume,
        quote_volume / nullif(volume, 0) as vwap,
        first_trade_id,
        last_trade_id,
        -- Complete only when every child exists and is complete.
        are_children_complete
        and child_count = round(
            extract(epoch from ({{ bucket_end(timeframe, 'bucket_start_at') }}) - bucket_start_at)
            / extract(epoch from {{ timeframe_interval(from_timeframe) }})
        ) as is_complete,
        is_empty
    from parents
)

select final.*
from final
{%- if is_incremental() and not force_recompute_var() %}
where not exists (
    -- force_recompute=false: a complete bucket already materialized stays exactly as it
    -- is; an incomplete one is rolled up again (its missing children may have arrived).
    select 1
    from {{ this }} as materialized
    where
        {{ same_instrument('materialized', 'final') }}
        and materialized.bucket_start_at = final.bucket_start_at
        and materialized.is_complete
)
{%- endif %}
{%- endmacro %}

{#- A pre_hook: with force_recompute, delete the model's buckets in the run's window before
    the model writes them again, so that the window is replaced as a whole (a bucket the new
    computation no longer produces does not survive). Without force_recompute, or on a
    model's first run, it does nothing. -#}
{% macro candles_clear_window(timeframe) -%}
    {%- if force_recompute_var() and is_incremental() -%}
        delete from {{ this }} as replaced
        using (
            {{ window_bounds(timeframe) }}
        ) as window_bounds
        where
            {{ same_instrument('replaced', 'window_bounds') }}
            and replaced.bucket_start_at >= window_bounds.window_start_at
            and replaced.bucket_start_at < window_bounds.window_end_at
    {%- else -%}
        select 'candles_{{ timeframe }}: nothing to clear' as clear_window
    {%- endif -%}
{%- endmacro %}
