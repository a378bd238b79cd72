-- One row per instrument and calendar month with a known price: its regime, and whether all
-- of its days have complete minute-level (5m-built) candles.
with monthly_regimes as (
    select * from {{ ref('regimes_monthly') }}
),

daily_candles as (
    select * from {{ ref('candles_1d') }}
),

materialized_days as (
    select
        exchange,
        market,
        symbol,
        date_trunc('month', bucket_start_at at time zone 'utc')::date as month_start_date,
        count(*) filter (where is_complete) as complete_days
    from daily_candles
    group by exchange, market, symbol, date_trunc('month', bucket_start_at at time zone 'utc')::date
),

final as (
    select
        monthly_regimes.exchange,
        monthly_regimes.market,
        monthly_regimes.symbol,
        monthly_regimes.month_start_date,
        monthly_regimes.days_in_period as days_in_month,
        coalesce(materialized_days.complete_days, 0) as complete_days,
        coalesce(materialized_days.complete_days, 0) = monthly_regimes.days_in_period as is_materialized,
        monthly_regimes.regime,
        monthly_regimes.trend_strength,
        monthly_regimes.label_source,
        monthly_regimes.is_whole_period as has_prices_for_every_day
    from monthly_regimes
    left join materialized_days
        on
            {{ same_instrument('monthly_regimes', 'materialized_days') }}
            and monthly_regimes.month_start_date = materialized_days.month_start_date
)

select * from final
