{{
    config(
        meta={'retention_timeframe': '5m'},
    )
}}

{%- set grid_steps = (sniper_var('gamma_zero_grid_range_pct') / sniper_var('gamma_zero_grid_step_pct')) | round | int %}

with {{ window_bounds_cte('5m') }},

contracts as not materialized (
    -- Live contracts of the chain snapshots the window's buckets may use. Inlined where
    -- used (three times): the instrument filters then reach the chain's scan, which has
    -- statistics; on a materialized CTE each was estimated at one row.
    select
        window_bounds.exchange,
        window_bounds.market,
        window_bounds.symbol,
        chains.snapshot_at,
        chains.strike,
        chains.open_interest * chains.contract_size as open_interest_coins,
        chains.mark_iv / 100.0 as vol,
        date_part('epoch', chains.expiry_at - chains.snapshot_at) / (365.0 * 86400) as years_to_expiry,
        chains.gamma,
        chains.underlying_price as spot,
        {{ features_gamma_sign('chains.option_type') }} as exposure_sign
    from window_bounds
    cross join lateral (
        select options_chain.*
        from {{ ref('stg_raw__options_chain') }} as options_chain
        where
            options_chain.underlying = {{ features_underlying_of('window_bounds.symbol') }}
            and options_chain.snapshot_at
            >= window_bounds.window_start_at - interval '{{ sniper_var('gamma_snapshot_max_age_minutes') }} minutes'
            and options_chain.snapshot_at < window_bounds.window_end_at
            and options_chain.expiry_at > options_chain.snapshot_at
    ) as chains
),

contract_exposure as not materialized (
    -- Dollar gamma per 1% move: gamma x open interest (coins) x spot^2 x 0.01, signed.
    select
        *,
        exposure_sign * gamma * open_interest_coins * spot * spot * 0.01 as gamma_exposure
    from contracts
),

snapshots as (
    select
        exchange,
        market,
        symbol,
        snapshot_at,
        max(spot) as gamma_spot,
        sum(gamma_exposure) as gamma_exposure,
        count(*) as gamma_contract_count
    from contract_exposure
    group by exchange, market, symbol, snapshot_at
),

strikes as (
    select
        exchange,
        market,
        symbol,
        snapshot_at,
        strike,
        sum(gamma_exposure) as strike_gamma_exposure
    from contract_exposure
    group by exchange, market, symbol, snapshot_at, strike
),

peak_strikes as (
    select distinct on (exchange, market, symbol, snapshot_at)
        exchange,
        market,
        symbol,
        snapshot_at,
        strike as max_abs_gamma_strike
    from strikes
    order by exchange asc, market asc, symbol asc, snapshot_at asc, abs(strike_gamma_exposure) desc, strike asc
),

grid as materialized (
    -- Each level's spot factor and its logarithm, once, in double precision.
    select
        grid_step,
        spot_factor,
        ln(spot_factor) as log_spot_factor
    from (
        select
            grid_step,
            (1 + grid_step * {{ sniper_var('gamma_zero_grid_step_pct') }} / 100.0)::double precision as spot_factor
        from generate_series(-{{ grid_steps }}, {{ grid_steps }}) as grid_step
    ) as levels
),

snapshot_terms as (
    -- Black-Scholes gamma at zero rates, pdf(d1) / (S vol sqrt(years)) with
    -- d1 = (ln(S / strike) + vol^2 years / 2) / (vol sqrt(years)), times open interest,
    -- S^2 and 0.01, re-priced with the contract's spot moved to S = spot x f, factors
    -- into a part per contract and a part per grid level:
    --   exposure(f) = scale x f x exp(-((moneyness + ln f) / vol_time)^2 / 2), where
    --   moneyness = ln(spot / strike) + vol^2 years / 2, vol_time = vol sqrt(years) and
    --   scale = sign x open interest x spot x 0.01 / (vol_time sqrt(2 pi)).
    -- A snapshot's contracts go into arrays that every level sums in one pass: a third less
    -- CPU than hashing the (contract, level) pairs, about ten million a quarter. The
    -- exponent is capped at 700 (pdf ~ 1e-304) because exp() raises on underflow.
    select
        exchange,
        market,
        symbol,
        snapshot_at,
        max(spot) as spot,
        array_agg(ln(spot / strike) + 0.5 * vol * vol * years_to_expiry) as moneyness,
        array_agg(vol * sqrt(years_to_expiry)) as vol_time,
        array_agg(
            exposure_sign * open_interest_coins * spot * 0.01 / (vol * sqrt(years_to_expiry) * sqrt(2 * pi()))
        ) as scale
    from contracts
    where vol > 0 and years_to_expiry > 0
    group by exchange, market, symbol, snapshot_at
),

repriced as materialized (
    -- Gamma exposure if spot stood at each grid level (the snapshot's spot x the level's
    -- factor), every contract re-priced at its mark IV and time to expiry. Materialized:
    -- inlined into grid_pairs, PostgreSQL evaluated the sum twice per level (for the level,
    -- then again inside lead()) and sorted the contract arrays with every row (on disk).
    select
        snapshot_terms.exchange,
        snapshot_terms.market,
        snapshot_terms.symbol,
        snapshot_terms.snapshot_at,
        grid.grid_step,
        snapshot_terms.spot * grid.spot_factor as spot_level,
        grid.spot_factor * (
            select
                sum(
                    terms.scale
                    * exp(-least(0.5 * power((terms.moneyness + grid.log_spot_factor) / terms.vol_time, 2), 700))
                )
            from unnest(snapshot_terms.moneyness, snapshot_terms.vol_time, snapshot_terms.scale)
                as terms (moneyness, vol_time, scale)
        ) as level_gamma_exposure
    from snapshot_terms
    cross join grid
),

grid_pairs as (
    select
        exchange,
        market,
        symbol,
        snapshot_at,
        grid_step,
        spot_level,
        level_gamma_exposure,
        lead(spot_level) over by_level as next_spot_level,
        lead(level_gamma_exposure) over by_level as next_level_gamma_exposure
    from repriced
    window by_level as (partition by exchange, market, symbol, snapshot_at order by grid_step)
),

crossings as (
    -- Where exposure changes sign between two grid levels, the linear interpolation of
    -- the zero; the crossing nearest the spot is the zero-gamma level.
    select distinct on (exchange, market, symbol, snapshot_at)
        exchange,
        market,
        symbol,
        snapshot_at,
        spot_level - level_gamma_exposure * (next_spot_level - spot_level)
        / (next_level_gamma_exposure - level_gamma_exposure) as zero_gamma_level
    from grid_pairs
    where
        (level_gamma_exposure < 0 and next_level_gamma_exposure >= 0)
        or (level_gamma_exposure > 0 and next_level_gamma_exposure <= 0)
    order by exchange asc, market asc, symbol asc, snapshot_at asc, abs(grid_step + 0.5) asc, grid_step asc
),

snapshot_features as materialized (
    -- Computed once: inlined, the repricing above ran again for every bucket whenever the
    -- planner put the buckets first (a week's buckets under stale statistics: minutes).
    select
        snapshots.exchange,
        snapshots.market,
        snapshots.symbol,
        snapshots.snapshot_at,
        snapshots.gamma_spot,
        snapshots.gamma_exposure,
        snapshots.gamma_contract_count,
        peak_strikes.max_abs_gamma_strike,
        crossings.zero_gamma_level
    from snapshots
    left join peak_strikes
        on
            {{ same_instrument('snapshots', 'peak_strikes') }}
            and snapshots.snapshot_at = peak_strikes.snapshot_at
    left join crossings
        on
            {{ same_instrument('snapshots', 'crossings') }}
            and snapshots.snapshot_at = crossings.snapshot_at
),

buckets as (
    -- The window's candle buckets: features never run ahead of the candles.
    {{ features_window_buckets() }}
),

usable as (
    -- Every snapshot taken before the bucket's end and young enough at that end.
    select
        buckets.exchange,
        buckets.market,
        buckets.symbol,
        buckets.bucket_start_at,
        snapshot_features.snapshot_at,
        snapshot_features.gamma_spot,
        snapshot_features.gamma_exposure,
        snapshot_features.gamma_contract_count,
        snapshot_features.max_abs_gamma_strike,
        snapshot_features.zero_gamma_level
    from buckets
    {{ join_usable_snapshots('buckets', 'snapshot_features', sniper_var('gamma_snapshot_max_age_minutes')) }}
),

final as (
    select distinct on (exchange, market, symbol, bucket_start_at)
        exchange,
        market,
        symbol,
        bucket_start_at,
        snapshot_at as gamma_snapshot_at,
        gamma_spot,
        gamma_contract_count,
        gamma_exposure,
        max_abs_gamma_strike,
        zero_gamma_level,
        zero_gamma_level / gamma_spot - 1 as zero_gamma_distance
    from usable
    order by exchange asc, market asc, symbol asc, bucket_start_at asc, snapshot_at desc
)

select final.*
from final
{{- features_keep_materialized('final') }}
