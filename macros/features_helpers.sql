{#- Small pieces the feature models share. The window itself is the candles' (macros/window/). -#}

{#- The window's 5-minute candle buckets per instrument (needs a `window_bounds` CTE, see
    above): the buckets a feature model writes, so features never run ahead of the candles. -#}
{% macro features_window_buckets() -%}
    select
        candles.exchange,
        candles.market,
        candles.symbol,
        candles.bucket_start_at
    from {{ ref('candles_5m') }} as candles
    inner join window_bounds
        on
            {{ same_instrument('candles', 'window_bounds') }}
            and candles.bucket_start_at >= window_bounds.window_start_at
            and candles.bucket_start_at < window_bounds.window_end_at
{%- endmacro %}

{#- force_recompute=false keeps a bucket already materialized exactly as it is (as the
    candles do); true replaces the window's buckets. Appended to a model's final select. -#}
{% macro features_keep_materialized(relation_alias) -%}
    {%- if is_incremental() and not force_recompute_var() %}
    where not exists (
        select 1
        from {{ this }} as materialized
        where
            {{ same_instrument('materialized', relation_alias) }}
            and materialized.bucket_start_at = {{ relation_alias }}.bucket_start_at
    )
    {%- endif %}
{%- endmacro %}

{#- The options underlying of a spot or perpetual symbol: the symbol without its quote
    currency (BTCUSDT -> BTC, ETHUSDC -> ETH). -#}
{% macro features_underlying_of(symbol_column) -%}
    regexp_replace({{ symbol_column }}, '(USDT|USDC|FDUSD|BUSD|USD)$', '')
{%- endmacro %}

{#- +1 for the option type the gamma_exposure_sign_convention var counts positive, else -1. -#}
{% macro features_gamma_sign(option_type_column) -%}
    {%- set convention = sniper_var('gamma_exposure_sign_convention') -%}
    {%- if convention == 'calls_positive' -%}
        case when {{ option_type_column }} = 'call' then 1 else -1 end
    {%- elif convention == 'puts_positive' -%}
        case when {{ option_type_column }} = 'put' then 1 else -1 end
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "gamma_exposure_sign_convention must be calls_positive or puts_positive, got " ~ convention) }}
    {%- endif -%}
{%- endmacro %}


{#- Join each 5-minute bucket to every snapshot usable at its end: taken before the end and
    at most `max_age_minutes` old then. The snapshot's own 5-minute bucket, a few buckets
    back at most, is an equality key, so PostgreSQL hash-joins (or probes the bucket's
    index) instead of comparing every bucket with every snapshot of the window (quadratic
    in the window's length); the exact age bounds still decide. The key is written as
    bucket = f(snapshot, step): both of f's inputs come before the buckets in any join
    order. Written as f(snapshot) = bucket - step it was no key once the planner (which
    has no statistics for an aggregated CTE) joined the snapshots to the buckets first:
    231 s instead of 2 s for a 92-day window of 1-minute depth snapshots. Callers keep
    the newest per bucket. -#}
{% macro join_usable_snapshots(buckets, snapshots, max_age_minutes) -%}
    cross join generate_series(0, ceil({{ max_age_minutes }} / 5.0)::integer) as age_steps (buckets_back)
    inner join {{ snapshots }}
        on
            {{ same_instrument(buckets, snapshots) }}
            and {{ buckets }}.bucket_start_at
            = date_bin(interval '5 minutes', {{ snapshots }}.snapshot_at, timestamptz '2000-01-01 00:00:00+00')
            + age_steps.buckets_back * interval '5 minutes'
            and {{ snapshots }}.snapshot_at < {{ buckets }}.bucket_start_at + interval '5 minutes'
            and {{ snapshots }}.snapshot_at >= {{ buckets }}.bucket_start_at + interval '5 minutes'
            - interval '{{ max_age_minutes }} minutes'
{%- endmacro %}

{#- features_l1_5m's previous update's value of a book column, in its `by_update` window
    over `window_quotes`; for the first update read, the prior update's (`prior_quotes.book`
    at `position`), as the lag's default: evaluated for that update only. -#}
{% macro previous_or_prior(column, position) -%}
    lag({{ column }}, 1, (
        select prior_quotes.book[{{ position }}]
        from prior_quotes
        where {{ same_instrument('prior_quotes', 'window_quotes') }}
    )) over by_update
{%- endmacro %}
