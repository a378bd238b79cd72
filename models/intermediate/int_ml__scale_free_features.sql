-- One row per instrument and 5-minute bucket of features_5m: its columns and scale-free versions
-- of the order-flow features, so one model can pool instruments whose sizes differ by orders
-- of magnitude; rolling ones look back only (this bucket and earlier ones of the same
-- instrument). The one definition training (ml.training_dataset) and live scoring
-- (ml.scoring_features) share.
with features_5m as (
    select * from {{ ref('features_5m') }}
),

final as (
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
)

-- Every column of features_5m flows through (features_5m.* above), so new features reach
-- training and scoring without editing this model.
select * from final  -- noqa: AM04
