-- One row per symbol and 5-minute bucket: the triple-barrier outcome of entering long and
-- short at the bucket's close. Barriers sit at multiples of recent volatility (the sample
-- stdev of the last `label_vol_lookback_buckets` 5m log returns, scaled to the horizon);
-- the vertical barrier is `label_horizon_buckets` buckets later. Returns are net of
-- `label_fee_per_side` paid on entry and on exit. A bucket touching both barriers counts
-- as the stop (the conservative reading of a bar whose path inside is unknown).
with candles as (
    select
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
        symbol,
        bucket_start_at,
        close,
        is_complete,
        ln(close / lag(close) over by_time) as log_return
    from candles
    window by_time as (partition by symbol order by bucket_start_at)
),

entries as (
    select
        symbol,
        bucket_start_at,
        bucket_start_at + interval '5 minutes' as entry_at,
        close as entry_price,
        stddev_samp(log_return) over lookback * sqrt({{ sniper_var('label_horizon_buckets') }}) as horizon_vol,
        count(log_return) over lookback as vol_observations
    from with_returns
    where is_complete
    window lookback as (
        partition by symbol order by bucket_start_at
        rows between {{ sniper_var('label_vol_lookback_buckets') - 1 }} preceding and current row
    )
),

barriers as (
    select
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
    where vol_observations >= {{ sniper_var('label_vol_lookback_buckets') }} - 1 and horizon_vol > 0
),

paths as (
    -- The next `label_horizon_buckets` candles after each entry, by exact bucket key (a
    -- missing candle is simply absent), so the join is a hash join, not a range scan.
    select
        barriers.symbol,
        barriers.bucket_start_at,
        horizon_steps.step_number,
        path_candles.high,
        path_candles.low,
        path_candles.close,
        path_candles.is_complete
    from barriers
    cross join generate_series(1, {{ sniper_var('label_horizon_buckets') }}) as horizon_steps (step_number)
    inner join candles as path_candles
        on
            barriers.symbol = path_candles.symbol
            and barriers.bucket_start_at + horizon_steps.step_number * interval '5 minutes'
            = path_candles.bucket_start_at
),

first_touches as (
    select
        paths.symbol,
        paths.bucket_start_at,
        count(*) filter (where paths.is_complete) as complete_steps,
        min(paths.step_number) filter (where paths.high >= barriers.upper_take_profit) as long_take_profit_step,
        min(paths.step_number) filter (where paths.low <= barriers.lower_stop_loss) as long_stop_loss_step,
        min(paths.step_number) filter (where paths.low <= barriers.lower_take_profit) as short_take_profit_step,
        min(paths.step_number) filter (where paths.high >= barriers.upper_stop_loss) as short_stop_loss_step,
        max(paths.close) filter (where paths.step_number = {{ sniper_var('label_horizon_buckets') }}) as horizon_close
    from paths
    inner join barriers
        on paths.symbol = barriers.symbol and paths.bucket_start_at = barriers.bucket_start_at
    group by 1, 2
),

outcomes as (
    select
        barriers.symbol,
        barriers.bucket_start_at,
        barriers.entry_at,
        barriers.entry_price,
        barriers.horizon_vol,
        first_touches.complete_steps = {{ sniper_var('label_horizon_buckets') }} as is_label_complete,
        {{ triple_barrier_outcome('first_touches.long_take_profit_step', 'first_touches.long_stop_loss_step') }}
            as long_outcome,
        {{ triple_barrier_outcome('first_touches.short_take_profit_step', 'first_touches.short_stop_loss_step') }}
            as short_outcome,
        first_touches.long_take_profit_step,
        first_touches.long_stop_loss_step,
        first_touches.short_take_profit_step,
        first_touches.short_stop_loss_step,
        first_touches.horizon_close
    from barriers
    inner join first_touches
        on barriers.symbol = first_touches.symbol and barriers.bucket_start_at = first_touches.bucket_start_at
),

final as (
    select
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
