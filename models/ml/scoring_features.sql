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

-- The dataset's feature columns, whatever they are: a deployed model's columns are checked
-- against ml.training_dataset's (python/live/deployments.py), which selects the same model.
select * from final  -- noqa: AM04
