{#- The run's window, part 1 of 3: which days a run covers (bounds.sql: per instrument and
    timeframe; filter.sql: the rows inside). Every windowed model covers the same window.

    Vars (dbt --vars, python/dbt_vars.py):
      window_start     a date YYYY-MM-DD: the run covers [window_start, + window_days).
                       Unset: the newest window, the window_days UTC days up to and
                       including the day of the newest loaded event (raw.load_ledger) of
                       the run's instruments; nothing when nothing is loaded. The flows
                       always pass window_start (the planner, python/backfill/planner.py,
                       decides which); the default serves a plain `dbt build`, which thus
                       re-checks the newest data and, with force_recompute=false, keeps
                       every bucket already materialized.
      window_days      length of a window in days (default 7).
      instruments      list (or comma-separated string) of exchange:market:SYMBOL keys;
                       default every instrument with a load in the window (bounds.sql).
      force_recompute  false (default): buckets already materialized are kept as they are;
                       true: the window's buckets are computed again and replaced.
      window_first_minute, window_end_minute
                       narrow the window inside its days, in minutes after window_start's
                       midnight (multiples of 5; default 0 and the end of the last day):
                       the live materialization (flows/live_materialize.py) builds just the
                       5m buckets that closed since its last cycle, not their whole day.

    The window is resolved in Jinja into date literals: the planner sees the range when it
    plans (row estimates, parallel scans, partition pruning), and a literal is a constant
    where `timestamptz + interval` is only stable and would be evaluated per row. -#}

{% macro window_start_var() -%}
    {{ return(sniper_var('window_start')) }}
{%- endmacro %}

{% macro window_days_var() -%}
    {{ return(sniper_var('window_days')) }}
{%- endmacro %}

{% macro instruments_var() -%}
    {{ return(sniper_var('instruments')) }}
{%- endmacro %}

{% macro force_recompute_var() -%}
    {{ return(sniper_var('force_recompute')) }}
{%- endmacro %}

{#- {'start': date, 'end': date} (datetime.date, end exclusive) of the run's window. -#}
{% macro run_window() -%}
    {%- set days = window_days_var() -%}
    {%- set start = window_start_var() -%}
    {%- set first_day = newest_window_start(days) if start is none
        else modules.datetime.datetime.strptime(start, '%Y-%m-%d').date() -%}
    {{ return({'start': first_day, 'end': first_day + modules.datetime.timedelta(days=days)}) }}
{%- endmacro %}

{#- raw.load_ledger, named from the graph, not source(): that would make the ledger a parent
    of every windowed model and data test. A table no dbt run replaces, so a run can read it
    while others rebuild their views. -#}
{% macro load_ledger_relation() -%}
    {%- set ledger = graph.sources.values() | selectattr('source_name', 'equalto', 'raw')
        | selectattr('name', 'equalto', 'load_ledger') | first -%}
    {{ return(ledger) }}
{%- endmacro %}

{#- First day of the newest window: window_days days ending with the UTC day of the newest
    event any load of the run's instruments holds. Before anything is loaded (or while dbt
    parses), a day whose window holds no data. -#}
{% macro newest_window_start(days) -%}
    {%- set nothing = modules.datetime.date(1970, 1, 1) -%}
    {%- if not execute -%}
        {{ return(nothing) }}
    {%- endif -%}
    {%- set ledger = load_ledger_relation() -%}
    {%- if adapter.get_relation(ledger.database, ledger.schema, ledger.identifier) is none -%}
        {{ return(nothing) }}
    {%- endif -%}
    {%- set instruments = instruments_var() -%}
    {%- set newest_sql -%}
        -- A generated day is ledgered up to the next midnight, exclusive: 1 us before it.
        select (max(loads.last_ts - interval '1 microsecond') at time zone 'UTC')::date
        from {{ ledger.relation_name }} as loads
        {%- if instruments %}
        where (loads.exchange, loads.market, loads.symbol) in ({{ instrument_rows(instruments) }})
        {%- endif %}
    {%- endset -%}
    {%- set newest_day = run_query(newest_sql).columns[0].values()[0] -%}
    {{ return(nothing if newest_day is none else newest_day - modules.datetime.timedelta(days=days - 1)) }}
{%- endmacro %}

{#- SQL literal of the window's first instant or of its end (exclusive): 00:00 UTC of its
    first day and of the day after its last, unless window_first_minute / window_end_minute
    narrow it. -#}
{% macro window_literal(part) -%}
    {%- set window = run_window() -%}
    {%- set midnight = modules.datetime.datetime.combine(window.start, modules.datetime.time()) -%}
    {%- set minute = sniper_var('window_first_minute') if part == 'start' else sniper_var('window_end_minute') -%}
    {%- set instant = modules.datetime.datetime.combine(window[part], modules.datetime.time()) if minute is none
        else midnight + modules.datetime.timedelta(minutes=minute) -%}
    {{ return("timestamptz '" ~ instant.strftime('%Y-%m-%d %H:%M:%S') ~ "+00'") }}
{%- endmacro %}

{#- The instruments var as SQL row literals ('exchange', 'market', 'SYMBOL'), comma-separated
    (checked keys: no quote can occur). -#}
{% macro instrument_rows(instruments) -%}
    {%- for key in instruments -%}
        {%- set parts = key.split(':') -%}
        ('{{ parts[0] }}', '{{ parts[1] }}', '{{ parts[2] }}'){{ ", " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
