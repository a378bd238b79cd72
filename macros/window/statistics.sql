{#- A post-hook of the windowed tables: refresh the planner's statistics once a backfill
    window has been written, so the next model of the same run plans its joins with them.
    A table a run has just created has none until autovacuum gets to it (a minute or
    more), and without them PostgreSQL estimated the first window's candle buckets at one
    row per instrument: nested loops, a minute per feature model instead of seconds. A
    live cycle (a window narrowed to minutes) writes a few buckets and leaves the statistics
    to autovacuum: it changes them little, and its latency counts. Views have no
    statistics of their own. -#}
{% macro refresh_window_statistics() -%}
    {%- set narrowed = sniper_var('window_first_minute') or sniper_var('window_end_minute') is not none -%}
    {%- if model.config.materialized != 'view' and not narrowed -%}
        analyze {{ this }}
    {%- else -%}
        select 'no statistics to refresh' as refresh_window_statistics
    {%- endif -%}
{%- endmacro %}
