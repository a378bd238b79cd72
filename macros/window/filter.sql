{#- The run's window, part 3 of 3: the rows inside it (vars.sql: which days).

    window_filter(relation, time_column) is a select of the relation's rows whose
    time_column lies in the window's days, for the run's instruments: literal bounds, so
    the weekly partitions outside the window are pruned when the statement is planned.

    window_test_filter(time_column, timeframe='5m') is the `where` of a data test on a
    large table: the run's window, its start widened to a `timeframe` bucket, so a test
    reads what the run wrote (in YAML the placeholder __run_window__(column[, timeframe]),
    macros/get_where_subquery.sql). -#}

{% macro window_filter(relation, time_column) -%}
    {%- set instruments = instruments_var() -%}
    select filtered.*
    from {{ relation }} as filtered
    where
        filtered.{{ time_column }} >= {{ window_literal('start') }}
        and filtered.{{ time_column }} < {{ window_literal('end') }}
        {%- if instruments %}
        and (filtered.exchange, filtered.market, filtered.symbol) in ({{ instrument_rows(instruments) }})
        {%- endif %}
{%- endmacro %}

{% macro window_test_filter(time_column, timeframe='5m') -%}
    {{ time_column }} >= {{ bucket_start(timeframe, window_literal('start')) }}
    and {{ time_column }} < {{ window_literal('end') }}
{%- endmacro %}
