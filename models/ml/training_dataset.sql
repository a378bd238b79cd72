-- One row per instrument and 5-minute bucket: the bucket's features (known at its close), both
-- sides' triple-barrier outcomes of entering at that close, and the day's and month's
-- regime. Regimes are for splitting and reporting only, never features: a day's regime is
-- computed from that day's close, which lies in the entry's future.
with features as (
    -- The bucket's features and their scale-free versions: the same model scoring reads
    -- (ml.scoring_features), so a deployed model sees exactly the columns it trained on.
    select * from {{ ref('int_ml__scale_free_features') }}
),

labels as (
    select * from {{ ref('labels_5m') }}
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

final as (
    select
        features.*,
        labels.entry_at,
        labels.entry_price,
        labels.horizon_vol,
        labels.is_label_complete,
        labels.long_outcome,
        labels.long_net_return,
        labels.long_exit_at,
        labels.short_outcome,
        labels.short_net_return,
        labels.short_exit_at,
        date_trunc('month', labels.entry_at at time zone 'utc')::date as month_start_date,
        daily_regimes.regime as day_regime,
        monthly_regimes.regime as month_regime
    from features
    inner join labels
        on {{ same_instrument('features', 'labels') }} and features.bucket_start_at = labels.bucket_start_at
    left join daily_regimes
        on
            {{ same_instrument('features', 'daily_regimes') }}
            and (labels.entry_at at time zone 'utc')::date = daily_regimes.price_date
    left join monthly_regimes
        on
            {{ same_instrument('features', 'monthly_regimes') }}
            and date_trunc('month', labels.entry_at at time zone 'utc')::date
            = monthly_regimes.month_start_date
)

-- Every feature column of features_5m flows through (features.* above), so new features
-- reach training without editing this model.
select * from final  -- noqa: AM04
