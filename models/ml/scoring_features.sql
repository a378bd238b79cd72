-- One row per instrument and 5-minute bucket of features_5m: the feature columns of
-- ml.training_dataset without the labels, so the newest buckets, whose labels lie in the
-- future, can be scored (`sniper score`, flows/live_score.py). A view: nothing is copied, and a
-- scoring read that names the instrument reaches features_5m through its index (the rolling
-- windows partition by the instrument, so its filter is pushed below them).
with features as (
    select * from {{ ref('int_ml__scale_free_features') }}
),

final as (
    select * from features
)

select * from final
