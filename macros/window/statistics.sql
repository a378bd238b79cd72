{#- A post-hook of the windowed tables: refresh the planner's statistics once a window has
    been written, so the next model of the same run plans its joins with them. A table a
    run has just created has none until autovacuum gets to it (a minute or more), and new
    buckets lie past the histogram of older statistics: PostgreSQL then estimated a
    window's candle buckets at one row per instrument and chose nested loops, a minute or
    more per feature model instead of seconds. A live cycle of an hour or less (a few
    buckets, where such an estimate is about right) leaves the statistics to autovacuum:
    its latency counts. Views have no statistics of their own. -#}
{% macro refresh_window_statistics() -%}
    {%- set first_minute = sniper_var('window_first_minute') -%}
    {%- set end_minute = sniper_var('window_end_minute') -%}
    {%- set window_minutes = (window_days_var() * 1440 if end_minute is none else end_minute) - first_minute -%}
    {%- if model.config.materialized != 'view' and window_minutes > 60 -%}
        analyze {{ this }}
    {%- else -%}
        select 'no statistics to refresh' as refresh_window_statistics
    {%- endif -%}
{%- endmacro %}
