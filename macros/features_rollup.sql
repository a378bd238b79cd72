{#- One row per instrument and `minutes` bucket, rolled up from features_5m: flows add up,
    running sums and snapshot values are the newest known at the bucket's close, means are
    weighted by what they are means of. Used by features_15m and features_1h. -#}
{% macro features_rollup(timeframe) -%}
{%- set minutes = {'15m': 15, '1h': 60}[timeframe] -%}
{%- set last_known = "(array_agg({column} order by bucket_start_at desc) filter (where {column} is not null))[1]" -%}
with {{ window_bounds_cte(timeframe) }},

features as (
    select features_5m.*
    from {{ ref('features_5m') }} as features_5m
    inner join window_bounds
        on
            {{ same_instrument('features_5m', 'window_bounds') }}
            and features_5m.bucket_start_at >= window_bounds.window_start_at
            and features_5m.bucket_start_at < window_bounds.window_end_at
),

rolled as (
    select
        exchange,
        market,
        symbol,
        {{ bucket_start(timeframe, 'bucket_start_at') }} as bucket_start_at,
        count(*) as bucket_5m_count,
        sum(taker_buy_volume) as taker_buy_volume,
        sum(taker_sell_volume) as taker_sell_volume,
        sum(volume_delta) as volume_delta,
        {{ last_known.format(column='cvd_day') }} as cvd_day,
        {{ last_known.format(column='cvd_rolling') }} as cvd_rolling,
        sum(whale_order_count)::bigint as whale_order_count,
        sum(whale_buy_volume) as whale_buy_volume,
        sum(whale_sell_volume) as whale_sell_volume,
        sum(whale_volume_delta) as whale_volume_delta,
        {{ last_known.format(column='whale_cvd_day') }} as whale_cvd_day,
        {{ last_known.format(column='whale_cvd_rolling') }} as whale_cvd_rolling,
        sum(l1_update_count)::bigint as l1_update_count,
        sum(l1_coverage) / {{ minutes // 5 }} as l1_coverage,
        sum(ofi) as ofi,
        sum(l1_avg_depth * l1_update_count) / nullif(sum(l1_update_count) filter (
            where l1_avg_depth is not null
        ), 0) as l1_avg_depth,
        sum(obi_l1_twap * l1_coverage) / nullif(sum(l1_coverage) filter (
            where obi_l1_twap is not null
        ), 0) as obi_l1_twap,
        {{ last_known.format(column='obi_l1_close') }} as obi_l1_close,
        {{ last_known.format(column='obi_depth_1pct') }} as obi_depth_1pct,
        {{ last_known.format(column='obi_depth_2pct') }} as obi_depth_2pct,
        {{ last_known.format(column='obi_depth_3pct') }} as obi_depth_3pct,
        {{ last_known.format(column='obi_depth_4pct') }} as obi_depth_4pct,
        {{ last_known.format(column='obi_depth_5pct') }} as obi_depth_5pct,
        {{ last_known.format(column='gamma_exposure') }} as gamma_exposure,
        {{ last_known.format(column='max_abs_gamma_strike_distance') }} as max_abs_gamma_strike_distance,
        {{ last_known.format(column='zero_gamma_distance') }} as zero_gamma_distance,
        sum(iceberg_bid_count)::bigint as iceberg_bid_count,
        sum(iceberg_ask_count)::bigint as iceberg_ask_count,
        sum(iceberg_bid_hidden_volume) as iceberg_bid_hidden_volume,
        sum(iceberg_ask_hidden_volume) as iceberg_ask_hidden_volume,
        {{ last_known.format(column='open_interest') }} as open_interest,
        sum(open_interest_change) as open_interest_change,
        {{ last_known.format(column='open_interest_change_1h') }} as open_interest_change_1h,
        {{ last_known.format(column='funding_rate') }} as funding_rate
    from features
    group by exchange, market, symbol, {{ bucket_start(timeframe, 'bucket_start_at') }}
),

final as (
    select
        *,
        ofi / nullif(l1_avg_depth, 0) as ofi_normalized
    from rolled
)

select final.*
from final
{{- features_keep_materialized('final') }}
{%- endmacro %}
