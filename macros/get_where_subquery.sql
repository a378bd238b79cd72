{#- dbt's documented hook for templated test filters (config values in YAML cannot call
    project macros). A data test's `where` may hold the placeholder
    __run_window__(time_column) or __run_window__(time_column, timeframe); it becomes
    window_test_filter(time_column[, timeframe]) (macros/window/filter.sql): the run's
    window, its start widened to a timeframe bucket, so a test on a large table reads only
    what the run wrote. Any other `where` is used as dbt would. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if not where -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set pattern = '__run_window__\\(\\s*(\\w+)\\s*(?:,\\s*(\\w+)\\s*)?\\)' -%}
    {%- set match = modules.re.search(pattern, where) -%}
    {%- if match -%}
        {%- set column, timeframe = match.group(1), match.group(2) -%}
        {%- set window_filter_sql = window_test_filter(column, timeframe or '5m') -%}
        {%- set where = where[:match.start()] ~ window_filter_sql ~ where[match.end():] -%}
    {%- endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} where {{ where }}) as dbt_subquery
    {%- endset -%}
    {{ return(filtered) }}
{%- endmacro %}
