{#- Retention of a candle table, a post_hook (vars candle_retention_mode, candle_retention).

    Rows older than the policy's period behind each symbol's newest bucket are deleted. A
    run with window_start (a recompute or backfill of one window) deletes nothing, so
    nothing outside its window changes; the next run without window_start applies the
    policy. Keep every rollup's source longer than one of the rollup's buckets (phase1:
    5m and 15m for 4 weeks feed 1d; 1d for 6 months feeds 1w and 1mo). -#}
{% macro candles_retention(timeframe) -%}
    {%- set mode = var('candle_retention_mode', 'phase1') -%}
    {%- set policies = var('candle_retention') -%}
    {%- if mode not in policies -%}
        {{ exceptions.raise_compiler_error(
            "var candle_retention_mode '" ~ mode ~ "' is not one of " ~ (policies.keys() | join(', '))) }}
    {%- endif -%}
    {%- set keep = policies[mode].get(timeframe) -%}
    {%- if keep is none or window_start_var() is not none -%}
        select 'candles_{{ timeframe }}: nothing to delete in this run' as retention
    {%- else -%}
        delete from {{ this }} as expired
        using (
            select
                symbol,
                max(bucket_start_at) as newest_start_at
            from {{ this }}
            group by symbol
        ) as newest
        where
            expired.symbol = newest.symbol
            and expired.bucket_start_at < date_subtract(newest.newest_start_at, interval '{{ keep }}', 'UTC')
    {%- endif -%}
{%- endmacro %}
