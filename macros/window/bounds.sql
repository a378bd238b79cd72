{#- The run's window, part 2 of 3: per instrument, in a model's timeframe (vars.sql: which days).

    window_bounds(timeframe) is a select of (exchange, market, symbol, window_start_at,
    window_end_at), the window half-open and widened to whole `timeframe` buckets, so a
    rollup recomputes every bucket the window touches (a week or month that began in the
    previous window included). One row per instrument of the run. Models declare the CTE
    with window_bounds_cte(timeframe), the one place that says `not materialized`: with
    one instrument (every backfill window) PostgreSQL then folds the row into constants,
    so each (exchange, market, symbol) join becomes a filter on the base tables, whose
    statistics it has. A materialized CTE has none: every
    three-column instrument join with it was estimated at one row, and the nested loops
    that followed took a 92-day window's depth, gamma and 5m features from seconds to
    minutes each. -#}

{% macro window_bounds_cte(timeframe) -%}
    window_bounds as not materialized (
        {{ window_bounds(timeframe) }}
    )
{%- endmacro %}

{% macro window_bounds(timeframe) -%}
    select
        instruments.exchange,
        instruments.market,
        instruments.symbol,
        {{ bucket_start(timeframe, window_literal('start')) }} as window_start_at,
        {{ bucket_end(timeframe, bucket_start(timeframe, window_literal('end') ~ " - interval '1 microsecond'")) }}
            as window_end_at
    from ({{ window_instruments() }}) as instruments
{%- endmacro %}

{#- The instruments a run covers: the var, or every instrument with a load (raw.load_ledger,
    of any kind) whose events overlap the window's days: a few rows, whatever the tick count. -#}
{% macro window_instruments() -%}
    {%- set instruments = instruments_var() -%}
    {%- if instruments -%}
        select listed.exchange, listed.market, listed.symbol
        from (values {{ instrument_rows(instruments) }}) as listed (exchange, market, symbol)
    {%- elif not execute -%}
        {#- Parsing: the graph (and so the ledger's name) is not known yet; the SQL is not run. -#}
        select null::text as exchange, null::text as market, null::text as symbol
        where false
    {%- else -%}
        select distinct
            loads.exchange,
            loads.market,
            loads.symbol
        from {{ load_ledger_relation().relation_name }} as loads
        where
            loads.exchange is not null
            and loads.market is not null
            and loads.symbol is not null
            and loads.first_ts < {{ window_literal('end') }}
            and loads.last_ts >= {{ window_literal('start') }}
    {%- endif -%}
{%- endmacro %}
