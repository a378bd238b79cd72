{#- The one regime rule: a period's trend strength (log return over realized volatility)
    against a symmetric threshold. Used by the daily, weekly and monthly regime models. -#}
{% macro regime_label(trend_strength, threshold) -%}
    case
        when {{ trend_strength }} is null then null
        when {{ trend_strength }} >= {{ threshold }} then 'bull'
        when {{ trend_strength }} <= -{{ threshold }} then 'bear'
        else 'sideways'
    end
{%- endmacro %}


{#- One row per instrument and calendar period (week or month) of daily prices, labelled.
    trend_strength = sum of daily log returns / sqrt(sum of squared daily log returns):
    under a driftless random walk it is about standard normal whatever the period's length
    or volatility, so one threshold means one false-trend rate. -#}
{% macro regimes_by_period(period, period_column, threshold) -%}
with daily_prices as (
    select * from {{ ref('int_regimes__daily_prices') }}
),

periods as (
    select
        exchange,
        market,
        symbol,
        date_trunc('{{ period }}', price_date)::date as {{ period_column }},
        count(*) as days_observed,
        sum(log_return) as log_return,
        sqrt(sum(log_return * log_return)) as realized_vol,
        min(price_date) as first_price_date,
        max(price_date) as last_price_date,
        case when count(distinct label_source) = 1 then min(label_source) else 'mixed' end as label_source
    from daily_prices
    group by exchange, market, symbol, date_trunc('{{ period }}', price_date)::date
),

final as (
    select
        exchange,
        market,
        symbol,
        {{ period_column }},
        (({{ period_column }} + interval '1 {{ period }}')::date - {{ period_column }}) as days_in_period,
        days_observed,
        first_price_date,
        last_price_date,
        log_return,
        realized_vol,
        log_return / nullif(realized_vol, 0) as trend_strength,
        {{ regime_label('log_return / nullif(realized_vol, 0)', threshold) }} as regime,
        label_source,
        days_observed
        = (({{ period_column }} + interval '1 {{ period }}')::date - {{ period_column }}) as is_whole_period
    from periods
)

select * from final
{%- endmacro %}
