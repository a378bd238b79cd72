{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        unique_key=['exchange', 'market', 'symbol', 'side', 'quoted_at', 'update_id'],
        meta={'retention_timeframe': '5m'},
        indexes=[{'columns': ['exchange', 'market', 'symbol', 'bucket_start_at']}],
    )
}}

-- Kept between windows (an iceberg level can span two), so a table, in the intermediate
-- schema: the state of features_icebergs_5m and iceberg_events, not a table for analysts.
-- Features follow the candles: built after candles_5m, in every window build of `candles+`.
-- depends_on: {{ ref('candles_5m') }}

{%- set lookback = "interval '" ~ sniper_var('iceberg_lookback_minutes') ~ " minutes'" %}
{#- Sizes are compared as whole numbers of lots of 1e-8 (Binance's smallest size step),
    summed in float8: exact while a window's running total stays below 2^53 lots (9e7 units
    of the base asset); running sums of raw float8 sizes drift by more than a lot. -#}
{%- set lot = 100000000 %}

with {{ window_bounds_cte('5m') }},

range_starts as (
    -- Where the window's time range (all instruments) begins: rows before it are read per
    -- instrument.
    select
        exchange,
        market,
        symbol,
        window_start_at - {{ lookback }} as lookback_start_at,
        window_start_at as range_start_at
    from window_bounds
),

window_trades as (
    {{ window_filter(ref('stg_raw__trades'), 'traded_at') }}
),

earlier_trades as (
    -- A level's history before the window: what it showed and executed in the lookback.
    select earlier.*
    from range_starts
    cross join lateral (
        select trades.*
        from {{ ref('stg_raw__trades') }} as trades
        where
            {{ same_instrument('trades', 'range_starts') }}
            and trades.traded_at >= range_starts.lookback_start_at
            and trades.traded_at < range_starts.range_start_at
        -- the primary key's order; offset 0 keeps the lateral an index range per instrument
        order by trades.traded_at, trades.trade_id
        offset 0
    ) as earlier
),

window_quotes as (
    {{ window_filter(ref('stg_raw__l1_quotes'), 'quoted_at') }}
),

earlier_quotes as (
    select earlier.*
    from range_starts
    cross join lateral (
        select quotes.*
        from {{ ref('stg_raw__l1_quotes') }} as quotes
        where
            {{ same_instrument('quotes', 'range_starts') }}
            and quotes.quoted_at >= range_starts.lookback_start_at
            and quotes.quoted_at < range_starts.range_start_at
        -- the primary key's order; offset 0 keeps the lateral an index range per instrument
        order by quotes.quoted_at, quotes.update_id
        offset 0
    ) as earlier
),

trades as (
    select
        exchange,
        market,
        symbol,
        traded_at as event_at,
        0 as event_kind,
        trade_id as event_id,
        price,
        qty,
        is_buyer_maker,
        null::float8[] as book
    from (
        select * from window_trades
        union all
        select * from earlier_trades
    ) as all_trades
),

quotes as (
    -- An L1 state as one array that sorts in time order: (epoch seconds, update id, bid
    -- price, bid size, ask price, ask size). The float8 epoch keeps distinct microseconds
    -- apart (its resolution is 2.4e-7 s today) and update ids fit exactly (< 2^53).
    select
        exchange,
        market,
        symbol,
        quoted_at as event_at,
        1 as event_kind,
        update_id as event_id,
        null::float8 as price,
        null::float8 as qty,
        null::boolean as is_buyer_maker,
        array[date_part('epoch', quoted_at), update_id::float8, bid_price, bid_qty, ask_price, ask_qty] as book
    from (
        select * from window_quotes
        union all
        select * from earlier_quotes
    ) as all_quotes
),

tape as (
    -- Trades and quotes in one time line; a trade sorts before a quote of the same
    -- timestamp (the quote shows the book after the trade).
    select * from trades
    union all
    select * from quotes
),

with_book as (
    -- The L1 state each event saw: the newest quote strictly before it.
    select
        *,
        max(book) over (
            partition by exchange, market, symbol order by event_at, event_kind, event_id
            rows between unbounded preceding and 1 preceding
        ) as book_before
    from tape
),

touches as (
    -- Taker volume that hit the quoted best level: a sell at the bid, a buy at the ask.
    select
        exchange,
        market,
        symbol,
        event_at,
        event_kind,
        event_id,
        book,
        book_before,
        case
            when event_kind = 0 and is_buyer_maker and price = book_before[3] then round(qty * {{ lot }}) else 0
        end as bid_touch_lots,
        case
            when event_kind = 0 and not is_buyer_maker and price = book_before[5] then round(qty * {{ lot }}) else 0
        end as ask_touch_lots,
        case when event_kind = 1 and (book[3] is distinct from book_before[3]) then event_at end as bid_level_start_at,
        case when event_kind = 1 and (book[5] is distinct from book_before[5]) then event_at end as ask_level_start_at
    from with_book
),

running as (
    select
        *,
        sum(bid_touch_lots) over to_date as bid_touched_lots,
        sum(ask_touch_lots) over to_date as ask_touched_lots
    from touches
    window to_date as (
        partition by exchange, market, symbol order by event_at, event_kind, event_id
        rows between unbounded preceding and current row
    )
),

quote_steps as (
    -- Per quote: what executed at the previous quote's best levels since that quote, and
    -- the episode of those levels (a quote whose best price differs from the previous
    -- quote's starts a new one). The first quote read starts an episode too, which may
    -- have begun before it (before the look-back).
    select
        exchange,
        market,
        symbol,
        event_at as quoted_at,
        event_id as update_id,
        book,
        book_before,
        bid_touched_lots - lag(bid_touched_lots) over by_quote as bid_executed_lots,
        ask_touched_lots - lag(ask_touched_lots) over by_quote as ask_executed_lots,
        max(bid_level_start_at) over by_quote as bid_episode_started_at,
        max(ask_level_start_at) over by_quote as ask_episode_started_at,
        coalesce(first_value(event_at) over by_quote, event_at) as first_quote_read_at
    from running
    where event_kind = 1
    window by_quote as (
        partition by exchange, market, symbol order by event_at, event_kind, event_id
        rows between unbounded preceding and 1 preceding
    )
),

executions as (
    select * from quote_steps
    where bid_executed_lots > 0 or ask_executed_lots > 0
),

intervals as (
    -- One row per quote and side where taker volume hit the level the previous quote showed.
    select
        executions.exchange,
        executions.market,
        executions.symbol,
        sides.side,
        executions.quoted_at,
        executions.update_id,
        executions.first_quote_read_at,
        sides.episode_started_at,
        sides.price,
        sides.displayed_before,
        sides.executed_lots,
        case when sides.price_after = sides.price then sides.qty_after end as displayed_after,
        sides.executed_lots >= round(sides.displayed_before * {{ lot }}) as took_whole_display
    from executions
    cross join
        lateral (
            values
            (
                'bid', executions.bid_episode_started_at, executions.book_before[3], executions.book_before[4],
                executions.bid_executed_lots, executions.book[3], executions.book[4]
            ),
            (
                'ask', executions.ask_episode_started_at, executions.book_before[5], executions.book_before[6],
                executions.ask_executed_lots, executions.book[5], executions.book[6]
            )
        ) as sides (side, episode_started_at, price, displayed_before, executed_lots, price_after, qty_after)
    where sides.executed_lots > 0
),

refills as (
    -- A refill: the takers took at least the whole displayed size, yet the level still
    -- shows size at the same price.
    select
        *,
        coalesce(took_whole_display and displayed_after > 0, false) as is_refill,
        round(greatest(displayed_before, coalesce(displayed_after, 0)) * {{ lot }}) as displayed_lots
    from intervals
),

refilled_levels as (
    -- Only levels that refilled at least once can become icebergs: the few worth ordering.
    select distinct
        exchange,
        market,
        symbol,
        side,
        episode_started_at
    from refills
    where is_refill
),

to_date as (
    select
        refills.*,
        count(*) filter (where refills.is_refill) over episode_to_date as refills_to_date,
        sum(refills.executed_lots) over episode_to_date as executed_lots_to_date,
        max(refills.displayed_lots) over episode_to_date as max_displayed_lots_to_date
    from refills
    inner join refilled_levels
        on
            {{ same_instrument('refills', 'refilled_levels') }}
            and refills.side = refilled_levels.side
            and refills.episode_started_at = refilled_levels.episode_started_at
    window episode_to_date as (
        partition by refills.exchange, refills.market, refills.symbol, refills.side, refills.episode_started_at
        order by refills.quoted_at, refills.update_id
        rows between unbounded preceding and current row
    )
),

confirmed as (
    -- Known at this quote: the level refilled often enough and executed more than it ever showed.
    select
        *,
        refills_to_date >= {{ sniper_var('iceberg_min_refills') }}
        and executed_lots_to_date > max_displayed_lots_to_date as is_confirmed,
        greatest(executed_lots_to_date - max_displayed_lots_to_date, 0)::float8 / {{ lot }} as hidden_to_date
    from to_date
),

icebergs as (
    select
        *,
        bool_or(is_confirmed) over level as is_iceberg,
        max(quoted_at) over level as level_last_quoted_at
    from confirmed
    window level as (partition by exchange, market, symbol, side, episode_started_at)
),

hidden_increments as (
    -- Hidden volume revealed since the previous confirmed quote of the level (the running
    -- maximum, so the increments add up to the largest hidden volume seen).
    select
        *,
        case
            when is_confirmed
                then greatest(
                    hidden_to_date - coalesce(max(hidden_to_date) filter (where is_confirmed) over (
                        partition by exchange, market, symbol, side, episode_started_at
                        order by quoted_at, update_id
                        rows between unbounded preceding and 1 preceding
                    ), 0),
                    0
                )
        end as hidden_qty_added
    from icebergs
    where is_iceberg
),

final as (
    select
        hidden_increments.exchange,
        hidden_increments.market,
        hidden_increments.symbol,
        {{ bucket_start('5m', 'hidden_increments.quoted_at') }} as bucket_start_at,
        hidden_increments.side,
        hidden_increments.price,
        hidden_increments.episode_started_at,
        hidden_increments.quoted_at,
        hidden_increments.update_id,
        hidden_increments.displayed_before,
        hidden_increments.executed_lots::float8 / {{ lot }} as executed_qty,
        hidden_increments.displayed_after,
        hidden_increments.is_refill,
        hidden_increments.refills_to_date,
        hidden_increments.executed_lots_to_date::float8 / {{ lot }} as executed_to_date,
        hidden_increments.max_displayed_lots_to_date::float8 / {{ lot }} as max_displayed_to_date,
        hidden_increments.is_confirmed,
        hidden_increments.hidden_qty_added
    from hidden_increments
    inner join window_bounds
        on
            {{ same_instrument('hidden_increments', 'window_bounds') }}
            and hidden_increments.quoted_at < window_bounds.window_end_at
            and (
                hidden_increments.quoted_at >= window_bounds.window_start_at
                -- A level that executes in the window and began in the look-back, after the
                -- first quote read (so all of it was read): its intervals before the window
                -- too. The previous window wrote them only if the level was confirmed by its
                -- end; an iceberg confirmed after a window boundary is then one whole event.
                or (
                    hidden_increments.level_last_quoted_at >= window_bounds.window_start_at
                    and hidden_increments.episode_started_at > hidden_increments.first_quote_read_at
                )
            )
)

select * from final
