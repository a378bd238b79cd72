{#- The run's window, part 2 of 3: per symbol, in a model's timeframe (vars.sql: which days).

    window_bounds(events, timeframe) is a select of (symbol, window_start_at,
    window_end_at), the window half-open and widened to whole `timeframe` buckets, so a
    rollup recomputes every bucket the window touches (a week or month that began in the
    previous window included). One row per symbol: the symbols var, or every symbol present
    in `events`. Use it as the body of a CTE. -#}

{% macro window_bounds(events, timeframe) -%}
    select
        symbols.symbol,
        {{ bucket_start(timeframe, window_literal('start')) }} as window_start_at,
        {{ bucket_end(timeframe, bucket_start(timeframe, window_literal('end') ~ " - interval '1 microsecond'")) }}
            as window_end_at
    from ({{ window_symbols(events) }}) as symbols
{%- endmacro %}

{#- The symbols a run covers: the var, or every symbol of `events` (a loose index scan
    over its (symbol, ...) index: one probe per symbol and partition, not a scan). -#}
{% macro window_symbols(events) -%}
    {%- set symbols = symbols_var() -%}
    {%- if symbols -%}
        select unnest(array[{{ window_symbol_list(symbols) }}]::text []) as symbol
    {%- else -%}
        with recursive present_symbols as (
            select min(events.symbol) as symbol
            from {{ events }} as events

            union all

            select (
                select min(events.symbol) as symbol
                from {{ events }} as events
                where events.symbol > present_symbols.symbol
            ) as symbol
            from present_symbols
            where present_symbols.symbol is not null
        )

        select present_symbols.symbol
        from present_symbols
        where present_symbols.symbol is not null
    {%- endif -%}
{%- endmacro %}
