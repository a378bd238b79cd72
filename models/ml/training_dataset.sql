-- One row per instrument and 5-minute bucket: the bucket's features (known at its close), both
-- sides' triple-barrier outcomes of entering at that close, and the day's and month's
-- regime. Regimes are for splitting and reporting only, never features: a day's regime is
-- computed from that day's close, which lies in the entry's future.
with features_5m as (
    select * from {{ ref('features_5m') }}
),

features as (
    -- Scale-free versions of the order-flow features, so one model can pool instruments whose
    -- sizes differ by orders of magnitude; rolling ones look back only (this bucket and
    -- earlier ones of the same instrument).
    select
        *,
        volume_delta / nullif(volume, 0) as flow_imbalance,
        sum(volume_delta) over last_3 / nullif(sum(volume) over last_3, 0) as flow_imbalance_15m,
        whale_volume_delta / nullif(volume, 0) as whale_imbalance,
        sum(whale_volume_delta) over last_12 / nullif(sum(volume) over last_12, 0) as whale_imbalance_1h,
        avg(ofi_normalized) over last_3 as ofi_normalized_15m,
        avg(obi_l1_twap) over last_3 as obi_l1_twap_15m,
        sign(gamma_exposure) * ln(1 + abs(gamma_exposure)) as gamma_exposure_log,
        (iceberg_bid_hidden_volume - iceberg_ask_hidden_volume) / nullif(volume, 0) as iceberg_imbalance,
        -- +1 when the bucket's taker flow pushes the way the crowded side already leans
        -- (buying while longs pay funding, selling while shorts pay), -1 against it.
        sign(funding_rate) * sign(volume_delta) as funding_flow_sign
    from features_5m
    window
        last_3 as (
            partition by exchange, market, symbol order by bucket_start_at rows between 2 preceding and current row
        ),
        last_12 as (
            partition by exchange, market, symbol order by bucket_start_at rows between 11 preceding and current row
        )
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
