{{
    config(
        materialized='incremental',
        unique_key=['symbol', 'side', 'quoted_at', 'update_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{%- set lookback = "interval '" ~ var('iceberg_lookback_minutes') ~ " minutes'" %}
{#- Sizes are compared in integer units of 1e-8 (Binance's smallest lot): running sums of
    float8 sizes drift by more than a lot over a week of trades. -#}
{%- set lot = 100000000 %}

with windows as (
    {{ features_windows() }}
),

trades as (
    select
        trades.symbol,
        trades.traded_at as event_at,
        0 as event_kind,
        trades.trade_id as event_id,
        trades.price,
        trades.qty,
        trades.is_buyer_maker,
        null::float8[] as book,
        windows.window_start_at
    from {{ ref('stg_raw__trades') }} as trades
    inner join windows
        on
            trades.symbol = windows.symbol
            and trades.traded_at >= windows.window_start_at - {{ lookback }}
            and trades.traded_at < windows.window_end_at
),

quotes as (
    -- An L1 state as one array that sorts by time: (epoch microseconds, update id, bid
    -- price, bid size, ask price, ask size). Both ids fit a float8 exactly (< 2^53).
    select
        quotes.symbol,
        quotes.quoted_at as event_at,
        1 as event_kind,
        quotes.update_id as event_id,
        null::float8 as price,
        null::float8 as qty,
        null::boolean as is_buyer_maker,
        array[
            (extract(epoch from quotes.quoted_at) * 1000000)::float8,
            quotes.update_id::float8,
            quotes.bid_price,
            quotes.bid_qty,
            quotes.ask_price,
            quotes.ask_qty
        ] as book,
        windows.window_start_at
    from {{ ref('stg_raw__l1_quotes') }} as quotes
    inner join windows
        on
            quotes.symbol = windows.symbol
            and quotes.quoted_at >= windows.window_start_at - {{ lookback }}
            and quotes.quoted_at < windows.window_end_at
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
            partition by symbol order by event_at, event_kind, event_id
            rows between unbounded preceding and 1 preceding
        ) as book_before
    from tape
),

touches as (
    -- Taker volume that hit the quoted best level (a sell at the bid, a buy at the ask);
    -- a quote whose best price differs from the previous one starts a new level episode.
    select
        symbol,
        event_at,
        event_kind,
        event_id,
        window_start_at,
        book,
        book_before,
        case
            when event_kind = 0 and is_buyer_maker and price = book_before[3] then round(qty * {{ lot }})::bigint
            else 0
        end as bid_touch_lots,
        case
            when event_kind = 0 and not is_buyer_maker and price = book_before[5] then round(qty * {{ lot }})::bigint
            else 0
        end as ask_touch_lots,
        case
            when event_kind = 1 and (book[3] is distinct from book_before[3]) then event_at
        end as bid_episode_start_at,
        case
            when event_kind = 1 and (book[5] is distinct from book_before[5]) then event_at
        end as ask_episode_start_at
    from with_book
),

running as (
    select
        *,
        sum(bid_touch_lots) over to_date as bid_touched_lots,
        sum(ask_touch_lots) over to_date as ask_touched_lots,
        max(bid_episode_start_at) over to_date as bid_episode_started_at,
        max(ask_episode_start_at) over to_date as ask_episode_started_at
    from touches
    window to_date as (
        partition by symbol order by event_at, event_kind, event_id
        rows between unbounded preceding and current row
    )
),

quote_steps as (
    -- Per quote: what executed at the previous quote's best levels since that quote.
    select
        symbol,
        event_at as quoted_at,
        event_id as update_id,
        window_start_at,
        book,
        book_before,
        bid_touched_lots - lag(bid_touched_lots) over by_quote as bid_executed_lots,
        ask_touched_lots - lag(ask_touched_lots) over by_quote as ask_executed_lots,
        lag(bid_episode_started_at) over by_quote as bid_episode_started_at,
        lag(ask_episode_started_at) over by_quote as ask_episode_started_at
    from running
    where event_kind = 1
    window by_quote as (partition by symbol order by event_at, event_kind, event_id)
),

intervals as (
    -- One row per quote and side where taker volume hit the level the previous quote showed.
    select
        quote_steps.symbol,
        sides.side,
        quote_steps.quoted_at,
        quote_steps.update_id,
        quote_steps.window_start_at,
        sides.episode_started_at,
        sides.price,
        sides.displayed_before,
        sides.executed_lots,
        case when sides.price_after = sides.price then sides.qty_after end as displayed_after,
        sides.executed_lots >= round(sides.displayed_before * {{ lot }}) as took_whole_display
    from quote_steps
    cross join
        lateral (
            values
            (
                'bid', quote_steps.bid_episode_started_at, quote_steps.book_before[3], quote_steps.book_before[4],
                quote_steps.bid_executed_lots, quote_steps.book[3], quote_steps.book[4]
            ),
            (
                'ask', quote_steps.ask_episode_started_at, quote_steps.book_before[5], quote_steps.book_before[6],
                quote_steps.ask_executed_lots, quote_steps.book[5], quote_steps.book[6]
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

to_date as (
    select
        *,
        count(*) filter (where is_refill) over episode_to_date as refills_to_date,
        sum(executed_lots) over episode_to_date as executed_lots_to_date,
        max(displayed_lots) over episode_to_date as max_displayed_lots_to_date
    from refills
    window episode_to_date as (
        partition by symbol, side, episode_started_at order by quoted_at, update_id
        rows between unbounded preceding and current row
    )
),

confirmed as (
    -- Known at this quote: the level refilled often enough and executed more than it ever showed.
    select
        *,
        refills_to_date >= {{ var('iceberg_min_refills') }}
        and executed_lots_to_date > max_displayed_lots_to_date as is_confirmed,
        greatest(executed_lots_to_date - max_displayed_lots_to_date, 0)::float8 / {{ lot }} as hidden_to_date
    from to_date
),

icebergs as (
    select
        *,
        bool_or(is_confirmed) over (partition by symbol, side, episode_started_at) as is_iceberg
    from confirmed
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
                        partition by symbol, side, episode_started_at order by quoted_at, update_id
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
        symbol,
        side,
        price,
        episode_started_at,
        quoted_at,
        update_id,
        displayed_before,
        executed_lots::float8 / {{ lot }} as executed_qty,
        displayed_after,
        is_refill,
        refills_to_date,
        executed_lots_to_date::float8 / {{ lot }} as executed_to_date,
        max_displayed_lots_to_date::float8 / {{ lot }} as max_displayed_to_date,
        is_confirmed,
        hidden_qty_added
    from hidden_increments
    where quoted_at >= window_start_at
)

select * from final
