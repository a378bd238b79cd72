{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['exchange', 'market', 'symbol', 'bucket_start_at', 'run_id'],
        on_schema_change='fail',
    )
}}

-- One row per live entry signal that took a side and whose triple-barrier label is complete:
-- the realized net return of that side, from labels_5m (the label training learns), and the
-- entry's day and month regime. Incremental: a signal's outcome is recorded once, when its
-- label completes, and stays, whatever later rebuilds of labels_5m or retention do.
with signals as (
    select
        exchange,
        market,
        symbol,
        bucket_start_at,
        run_id,
        deployment_status,
        side,
        threshold,
        case side when 'long' then long_win_probability else short_win_probability end as win_probability
    from {{ ref('stg_ml__entry_signals') }}
    where side is not null
),

labels as (
    select
        exchange,
        market,
        symbol,
        bucket_start_at,
        entry_at,
        long_outcome,
        long_net_return,
        long_exit_at,
        short_outcome,
        short_net_return,
        short_exit_at
    from {{ ref('labels_5m') }}
    where is_label_complete
),

daily_regimes as (
    select
        exchange,
        market,
        symbol,
        price_date,
        regime
    from {{ ref('regimes_daily') }}
),

monthly_regimes as (
    select
        exchange,
        market,
        symbol,
        month_start_date,
        regime
    from {{ ref('regimes_monthly') }}
),

outcomes as (
    select
        signals.exchange,
        signals.market,
        signals.symbol,
        signals.bucket_start_at,
        signals.run_id,
        signals.deployment_status,
        signals.side,
        signals.threshold,
        signals.win_probability,
        labels.entry_at,
        case signals.side when 'long' then labels.long_outcome else labels.short_outcome end as outcome,
        case signals.side when 'long' then labels.long_net_return else labels.short_net_return end as net_return,
        case signals.side when 'long' then labels.long_exit_at else labels.short_exit_at end as exit_at
    from signals
    inner join labels
        on {{ same_instrument('signals', 'labels') }} and signals.bucket_start_at = labels.bucket_start_at
),

final as (
    select
        outcomes.exchange,
        outcomes.market,
        outcomes.symbol,
        outcomes.bucket_start_at,
        outcomes.run_id,
        outcomes.deployment_status,
        outcomes.side,
        outcomes.threshold,
        outcomes.win_probability,
        outcomes.entry_at,
        outcomes.outcome,
        outcomes.net_return,
        outcomes.exit_at,
        daily_regimes.regime as day_regime,
        monthly_regimes.regime as month_regime,
        now() as recorded_at
    from outcomes
    left join daily_regimes
        on
            {{ same_instrument('outcomes', 'daily_regimes') }}
            and (outcomes.entry_at at time zone 'utc')::date = daily_regimes.price_date
    left join monthly_regimes
        on
            {{ same_instrument('outcomes', 'monthly_regimes') }}
            and date_trunc('month', outcomes.entry_at at time zone 'utc')::date = monthly_regimes.month_start_date
)

select final.*
from final
{%- if is_incremental() %}
where not exists (
    -- Recorded once: an outcome already in the table stays exactly as it was recorded.
    select 1
    from {{ this }} as recorded
    where
        {{ same_instrument('recorded', 'final') }}
        and recorded.bucket_start_at = final.bucket_start_at
        and recorded.run_id = final.run_id
)
{%- endif %}
