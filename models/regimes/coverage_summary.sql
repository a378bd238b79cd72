-- One row per instrument: materialized months by regime against the roadmap's requirement.
with coverage as (
    select * from {{ ref('regime_coverage') }}
),

counted as (
    select
        exchange,
        market,
        symbol,
        count(*) filter (where is_materialized) as materialized_months,
        count(*) filter (where is_materialized and regime = 'bull') as bull_months,
        count(*) filter (where is_materialized and regime = 'bear') as bear_months,
        count(*) filter (where is_materialized and regime = 'sideways') as sideways_months
    from coverage
    group by exchange, market, symbol
),

final as (
    select
        exchange,
        market,
        symbol,
        materialized_months,
        bull_months,
        bear_months,
        sideways_months,
        {{ sniper_var('coverage_required_months') }} as required_months,
        {{ sniper_var('coverage_required_bull_months') }} as required_bull_months,
        {{ sniper_var('coverage_required_bear_months') }} as required_bear_months,
        {{ sniper_var('coverage_required_sideways_months') }} as required_sideways_months,
        greatest({{ sniper_var('coverage_required_months') }} - materialized_months, 0) as missing_months,
        greatest({{ sniper_var('coverage_required_bull_months') }} - bull_months, 0) as missing_bull_months,
        greatest({{ sniper_var('coverage_required_bear_months') }} - bear_months, 0) as missing_bear_months,
        greatest({{ sniper_var('coverage_required_sideways_months') }} - sideways_months, 0) as missing_sideways_months,
        (
            materialized_months >= {{ sniper_var('coverage_required_months') }}
            and bull_months >= {{ sniper_var('coverage_required_bull_months') }}
            and bear_months >= {{ sniper_var('coverage_required_bear_months') }}
            and sideways_months >= {{ sniper_var('coverage_required_sideways_months') }}
        ) as is_requirement_met
    from counted
)

select * from final
