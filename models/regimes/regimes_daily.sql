-- One row per instrument and UTC day. A single day rarely trends: its strength is its log
-- return over the trailing realized daily volatility (root mean square of the last
-- `regime_daily_lookback_days` daily log returns, this day included).
with daily_prices as (
    select * from {{ ref('int_regimes__daily_prices') }}
),

with_volatility as (
    select
        exchange,
        market,
        symbol,
        price_date,
        open,
        close,
        log_return,
        label_source,
        sqrt(avg(log_return * log_return) over lookback) as trailing_daily_vol,
        count(*) over lookback as lookback_days_observed
    from daily_prices
    window lookback as (
        partition by exchange, market, symbol order by price_date
        rows between {{ sniper_var('regime_daily_lookback_days') - 1 }} preceding and current row
    )
),

final as (
    select
        exchange,
        market,
        symbol,
        price_date,
        open,
        close,
        log_return,
        trailing_daily_vol,
        lookback_days_observed,
        case
            when lookback_days_observed >= {{ sniper_var('regime_daily_min_lookback_days') }}
                then log_return / nullif(trailing_daily_vol, 0)
        end as trend_strength,
        {{ regime_label(
            "case when lookback_days_observed >= " ~ sniper_var('regime_daily_min_lookback_days')
            ~ " then log_return / nullif(trailing_daily_vol, 0) end",
            sniper_var('regime_daily_threshold')
        ) }} as regime,
        label_source
    from with_volatility
)

select * from final
