-- One row per instrument and 5-minute bucket: the triple-barrier outcome of entering long and
-- short at the bucket's close. Barriers sit at multiples of recent volatility (the sample
-- stdev of the last `label_vol_lookback_buckets` 5m log returns, scaled to the horizon; no
-- label before that many returns exist);
-- the vertical barrier is `label_horizon_buckets` buckets later. Returns are net of
-- `label_fee_per_side` paid on entry and on exit. A bucket touching both barriers counts
-- as the stop (the conservative reading of a bar whose path inside is unknown).
with candles as (
    select
        exchange,
        market,
        symbol,
        bucket_start_at,
        high,
        low,
        close,
        is_complete
    from {{ ref('candles_5m') }}
),

with_returns as (
    select
        exchange,
        market,
        symbol,
        bucket_start_at,
        close,
        is_complete,
        ln(close / lag(close) over by_time) as log_return
    from candles
    window by_time as (partition by exchange, market, symbol order by bucket_start_at)
),

entries as (
    select
        exchange,
        market,
        symbol,
        bucket_start_at,
        bucket_start_at + interval '5 minutes' as entry_at,
        close as entry_price,
        stddev_samp(log_return) over lookback * sqrt({{ sniper_var('label_horizon_buckets') }}) as horizon_vol,
        count(log_return) over lookback as vol_observations
    from with_returns
    where is_complete
    window lookback as (
        partition by exchange, market, symbol order by bucket_start_at
        rows between {{ sniper_var('label_vol_lookback_buckets') - 1 }} preceding and current row
    )
),

barriers as (
    select
        exchange,
        market,
        symbol,
        bucket_start_at,
        entry_at,
        entry_price,
        horizon_vol,
        entry_price * exp({{ sniper_var('label_take_profit_vol') }} * horizon_vol) as upper_take_profit,
        entry_price * exp(-{{ sniper_var('label_stop_loss_vol') }} * horizon_vol) as lower_stop_loss,
        entry_price * exp(-{{ sniper_var('label_take_profit_vol') }} * horizon_vol) as lower_take_profit,
        entry_price * exp({{ sniper_var('label_stop_loss_vol') }} * horizon_vol) as upper_stop_loss
    from entries
    -- The whole look-back, or no label: a volatility from fewer returns would depend on where
    -- the candles begin (the first candle has no return), not on the market.
    where vol_observations = {{ sniper_var('label_vol_lookback_buckets') }} and horizon_vol > 0
),

paths as (
    -- The next `label_horizon_buckets` candles after each entry (a missing candle is simply
    -- absent), read per entry as one range of the candles' unique index: linear in the
    -- entries whatever the planner estimates. (Joined on a computed bucket key, a stale row
    -- estimate of freshly written candles turned the join quadratic: 42 s for 2,592 candles.)
    select
        barriers.exchange,
        barriers.market,
        barriers.symbol,
        barriers.bucket_start_at,
        barriers.entry_at,
        barriers.entry_price,
        barriers.horizon_vol,
        barriers.upper_take_profit,
        barriers.lower_stop_loss,
        barriers.lower_take_profit,
        barriers.upper_stop_loss,
        path_candles.step_number,
        path_candles.high,
        path_candles.low,
        path_candles.close,
        path_candles.is_complete
    from barriers
    cross join lateral (
        select
            (date_part('epoch', candles_5m.bucket_start_at - barriers.bucket_start_at) / 300)::integer as step_number,
            candles_5m.high,
            candles_5m.low,
            candles_5m.close,
            candles_5m.is_complete
        from {{ ref('candles_5m') }} as candles_5m
        where
            {{ same_instrument('candles_5m', 'barriers') }}
            and candles_5m.bucket_start_at > barriers.bucket_start_at
            and candles_5m.bucket_start_at
            <= barriers.bucket_start_at + interval '{{ sniper_var('label_horizon_buckets') * 5 }} minutes'
        -- the index's order; offset 0: planned per entry (an index range), not flattened into a join
        order by candles_5m.bucket_start_at
        offset 0
    ) as path_candles
),

first_touches as (
    select
        exchange,
        market,
        symbol,
        bucket_start_at,
        entry_at,
        entry_price,
        horizon_vol,
        count(*) filter (where is_complete) as complete_steps,
        min(step_number) filter (where high >= upper_take_profit) as long_take_profit_step,
        min(step_number) filter (where low <= lower_stop_loss) as long_stop_loss_step,
        min(step_number) filter (where low <= lower_take_profit) as short_take_profit_step,
        min(step_number) filter (where high >= upper_stop_loss) as short_stop_loss_step,
        max(close) filter (where step_number = {{ sniper_var('label_horizon_buckets') }}) as horizon_close
    from paths
    group by
        exchange,
        market,
        symbol,
        bucket_start_at,
        entry_at,
        entry_price,
        horizon_vol,
        upper_take_profit,
        lower_stop_loss,
        lower_take_profit,
        upper_stop_loss
),

outcomes as (
    select
        exchange,
        market,
        symbol,
        bucket_start_at,
        entry_at,
        entry_price,
        horizon_vol,
        complete_steps = {{ sniper_var('label_horizon_buckets') }} as is_label_complete,
        {{ triple_barrier_outcome('long_take_profit_step', 'long_stop_loss_step') }} as long_outcome,
        {{ triple_barrier_outcome('short_take_profit_step', 'short_stop_loss_step') }} as short_outcome,
        long_take_profit_step,
        long_stop_loss_step,
        short_take_profit_step,
        short_stop_loss_step,
        horizon_close
    from first_touches
),

final as (
    select
        exchange,
        market,
        symbol,
        bucket_start_at,
        entry_at,
        entry_price,
        horizon_vol,
        is_label_complete,
        long_outcome,
        case long_outcome
            when 'take_profit' then exp({{ sniper_var('label_take_profit_vol') }} * horizon_vol) - 1
            when 'stop_loss' then exp(-{{ sniper_var('label_stop_loss_vol') }} * horizon_vol) - 1
            else horizon_close / entry_price - 1
        end - 2 * {{ sniper_var('label_fee_per_side') }} as long_net_return,
        entry_at + coalesce(
            least(long_take_profit_step, long_stop_loss_step), {{ sniper_var('label_horizon_buckets') }}
        ) * interval '5 minutes' as long_exit_at,
        short_outcome,
        case short_outcome
            when 'take_profit' then 1 - exp(-{{ sniper_var('label_take_profit_vol') }} * horizon_vol)
            when 'stop_loss' then 1 - exp({{ sniper_var('label_stop_loss_vol') }} * horizon_vol)
            else 1 - horizon_close / entry_price
        end - 2 * {{ sniper_var('label_fee_per_side') }} as short_net_return,
        entry_at + coalesce(
            least(short_take_profit_step, short_stop_loss_step), {{ sniper_var('label_horizon_buckets') }}
        ) * interval '5 minutes' as short_exit_at
    from outcomes
)

select * from final
