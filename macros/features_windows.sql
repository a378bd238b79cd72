{#- TEMPORARY stand-in until the candles' window macro lands: one row per symbol with the
    half-open window [window_start_at, window_end_at) this run materializes. -#}
{% macro features_windows() -%}
    {%- set window_days = var('window_days', 7) -%}
    {%- set symbols = var('symbols', none) -%}
    {%- set window_start = var('window_start', none) -%}
    select
        symbol,
        window_start_at,
        window_start_at + interval '{{ window_days }} days' as window_end_at
    from (
        select
            symbol,
            {%- if window_start %}
            '{{ window_start }}'::date::timestamptz as window_start_at
            {%- else %}
            date_trunc('day', min(traded_at), 'UTC') as window_start_at
            {%- endif %}
        from {{ ref('stg_raw__trades') }}
        {%- if symbols %}
        where symbol in ({% for s in symbols %}'{{ s }}'{% if not loop.last %}, {% endif %}{% endfor %})
        {%- endif %}
        group by symbol
    ) as starts
{%- endmacro %}
