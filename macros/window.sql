{#- The run's window: the ONE place that decides which slice of time a run reads.

    Vars (dbt --vars):
      window_start     a date YYYY-MM-DD; the run covers [window_start, window_start + window_days)
                       for every symbol. Unset: each symbol takes its next window (below).
      window_days      length of a window in days (default 7).
      symbols          list (or comma-separated string) of symbols; default every symbol
                       present in the events the model reads.
      force_recompute  false (default): buckets already materialized are kept as they are;
                       true: the window's buckets are computed again and replaced.

    API (docs/candles.md has the long form):
      window_bounds(events, time_column, timeframe, coverage=none, follow=false)
          A select of (symbol, window_start_at, window_end_at), one row per symbol that has
          something to do, the window half-open. Use it as the body of a CTE.
      window_filter(relation, time_column, bounds='window_bounds', exact=true, hinted=false)
          A select of relation's rows inside the bounds CTE named `bounds`; hinted=true
          when the model has window_hint as its pre_hook (then always exact per symbol).
      window_hint(events, time_column, timeframe, coverage=none)
          A pre_hook for models that read raw events: computes the bounds once, before the
          model's statement is planned, so that the planner sees the window's time range
          (row estimates, hence parallel scans; partition pruning) and the model reads
          exactly these bounds (window_bounds reads them back).
      window_test_filter(time_column, relation=none, timeframe='5m')
          The `where` of a data test on a large table: the run's window (in YAML, the
          placeholder __run_window__(column[, timeframe]), macros/get_where_subquery.sql).

    Next window (no window_start, incremental run), per symbol:
      follow=false (models reading events): starts on the UTC day of the first event (or
          covered instant, from `coverage`) at or after the last materialized bucket + one
          bucket; an empty table starts on the day of the symbol's first event. It lasts
          window_days days: a run reads at most one window of events per symbol.
      follow=true (models rolled up from a finer materialized model): from the `timeframe`
          bucket holding the UTC day of the last materialized bucket to the end of what the
          finer model holds; an empty table reads all of it.
    With window_start, every model covers [window_start, + window_days) widened to whole
    `timeframe` buckets, so a rollup recomputes every bucket the window touches. -#}

{#- The run's window vars, checked (macros/vars.sql). -#}
{% macro window_start_var() -%}
    {{ return(sniper_var('window_start')) }}
{%- endmacro %}

{% macro window_days_var() -%}
    {{ return(sniper_var('window_days')) }}
{%- endmacro %}

{% macro symbols_var() -%}
    {{ return(sniper_var('symbols')) }}
{%- endmacro %}

{% macro force_recompute_var() -%}
    {{ return(sniper_var('force_recompute')) }}
{%- endmacro %}

{#- SQL literal of the explicit window's start/end, or none without window_start. -#}
{% macro window_start_literal() -%}
    {%- set start = window_start_var() -%}
    {{ return(none if start is none else "timestamptz '" ~ start ~ " 00:00:00+00'") }}
{%- endmacro %}

{% macro window_end_literal() -%}
    {%- set start = window_start_var() -%}
    {%- if start is none -%}
        {{ return(none) }}
    {%- endif -%}
    {#- Computed here, not in SQL: timestamptz + interval is only stable, and a filter that
        is not a constant would be evaluated on every row of the window's partitions. -#}
    {%- set end = modules.datetime.datetime.strptime(start, '%Y-%m-%d') + modules.datetime.timedelta(days=window_days_var()) -%}
    {{ return("timestamptz '" ~ end.strftime('%Y-%m-%d') ~ " 00:00:00+00'") }}
{%- endmacro %}

{#- The symbols a run covers: the var, or every symbol of `events` (a loose index scan
    over its (symbol, ...) index: one probe per symbol and partition, not a scan). -#}
{% macro window_symbols(events) -%}
    {%- set symbols = symbols_var() -%}
    {%- if symbols -%}
        select unnest(array[{% for symbol in symbols %}'{{ symbol }}'{{ ", " if not loop.last }}{% endfor %}]::text []) as symbol
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

{#- The bounds as computed from the data (window_bounds reads the run's hint first). -#}
{% macro window_bounds_computed(events, time_column, timeframe, coverage=none, follow=false) -%}
    {%- set explicit_start = window_start_literal() -%}
    {%- if explicit_start is not none -%}
        select
            symbols.symbol,
            {{ bucket_start(timeframe, explicit_start) }} as window_start_at,
            {{ bucket_end(timeframe, bucket_start(timeframe, window_end_literal() ~ " - interval '1 microsecond'")) }}
                as window_end_at
        from ({{ window_symbols(events) }}) as symbols
    {%- elif follow -%}
        select
            symbols.symbol,
            coalesce(
                {{ bucket_start(timeframe, "date_trunc('day', progress.last_bucket_start_at, 'UTC')") }},
                '-infinity'
            ) as window_start_at,
            timestamptz 'infinity' as window_end_at
        from ({{ window_symbols(events) }}) as symbols
        cross join lateral (
            select
                {%- if is_incremental() %}
                    max(materialized.bucket_start_at) as last_bucket_start_at
                from {{ this }} as materialized
                where materialized.symbol = symbols.symbol
                {%- else %}
                    null::timestamptz as last_bucket_start_at
                {%- endif %}
        ) as progress
    {%- else -%}
        select
            progress.symbol,
            starts.window_start_at,
            date_add(starts.window_start_at, interval '{{ window_days_var() }} days', 'UTC') as window_end_at
        from (
            select
                symbols.symbol,
                {%- if is_incremental() %}
                    coalesce({{ bucket_end(timeframe, "(
                        select max(materialized.bucket_start_at)
                        from " ~ this ~ " as materialized
                        where materialized.symbol = symbols.symbol
                    )") }}, '-infinity') as resume_at
                {%- else %}
                    timestamptz '-infinity' as resume_at
                {%- endif %}
            from ({{ window_symbols(events) }}) as symbols
        ) as progress
        cross join lateral (
            select date_trunc('day', least(
                (
                    select min(events.{{ time_column }})
                    from {{ events }} as events
                    where
                        events.symbol = progress.symbol
                        and events.{{ time_column }} >= progress.resume_at
                ),
                {%- if coverage is not none %}
                    (
                        select min(greatest(covered.covered_from_at, progress.resume_at))
                        from {{ coverage }} as covered
                        where
                            covered.symbol = progress.symbol
                            and covered.covered_until_at > progress.resume_at
                    )
                {%- else %}
                    null::timestamptz
                {%- endif %}
            ), 'UTC') as window_start_at
        ) as starts
        where starts.window_start_at is not null
    {%- endif -%}
{%- endmacro %}

{#- Name of the transaction-local settings the hint travels in. -#}
{% macro window_hint_setting(part) -%}
    'sniper.window_{{ part }}'
{%- endmacro %}

{#- A setting of the run's hint as text, null when the hint is not set. -#}
{% macro window_hint_value(part) -%}
    nullif(current_setting({{ window_hint_setting(part) }}, true), '')
{%- endmacro %}

{% macro window_bounds(events, time_column, timeframe, coverage=none, follow=false) -%}
    select
        hinted.symbol,
        hinted.window_start_at,
        hinted.window_end_at
    from json_to_recordset({{ window_hint_value('bounds') }}::json)
        as hinted (symbol text, window_start_at timestamptz, window_end_at timestamptz)

    union all

    select
        computed.symbol,
        computed.window_start_at,
        computed.window_end_at
    from ({{ window_bounds_computed(events, time_column, timeframe, coverage, follow) }}) as computed
    where {{ window_hint_value('bounds') }} is null
{%- endmacro %}

{% macro window_hint(events, time_column, timeframe, coverage=none) -%}
    select
        set_config({{ window_hint_setting('bounds') }}, coalesce(json_agg(bounds)::text, '[]'), true),
        set_config({{ window_hint_setting('start_at') }}, coalesce(min(bounds.window_start_at), 'infinity')::text, true),
        set_config({{ window_hint_setting('end_at') }}, coalesce(max(bounds.window_end_at), '-infinity')::text, true),
        -- Shared: every symbol has a window and all windows are the same (the usual case),
        -- so one range over all symbols reads exactly the windows.
        set_config(
            {{ window_hint_setting('shared') }},
            (
                count(distinct (bounds.window_start_at, bounds.window_end_at)) <= 1
                and count(*) = (select count(*) from ({{ window_symbols(events) }}) as present)
            )::text,
            true
        )
    from ({{ window_bounds_computed(events, time_column, timeframe, coverage, false) }}) as bounds
{%- endmacro %}

{#- Rows of `relation` inside the window.

    With window_start, a time range of literals (pruned when planned); exact=true also keeps
    each symbol inside its own window (a join), exact=false leaves that to the caller, who
    may do it more cheaply on aggregates (the candles do it per bucket).

    With hinted=true (the model has window_hint as its pre_hook), the run's hint: when all
    symbols share one window (hint `shared`), one time range over all of them, which the
    planner sees when it plans (row estimates, hence a parallel scan; partitions pruned);
    otherwise each symbol's own window through the (symbol, time) index, one range per
    symbol. Either way exact. Without the hint (dbt unit tests) it reads the whole relation.

    part='shared' or part='per_symbol' gives one of the two alone (the other is then empty),
    for a model that aggregates each separately: a UNION ALL below an aggregate would keep
    the shared range from being aggregated in parallel workers.

    Otherwise (no hint), the union of the symbols' windows from the bounds CTE, pruned when
    the statement runs (the planner does not know the range when it plans). -#}
{% macro window_filter(relation, time_column, bounds='window_bounds', exact=true, hinted=false, part=none) -%}
    {%- set symbols = symbols_var() -%}
    {%- set column = 'filtered.' ~ time_column -%}
    {%- if part == 'per_symbol' and not (hinted and window_start_var() is none) %}
    {#- Only a next window from the hint can differ between symbols. #}
    select filtered.*
    from {{ relation }} as filtered
    where false
    {%- elif hinted and window_start_var() is none %}
        {%- set start_at = "coalesce(" ~ window_hint_value('start_at') ~ "::timestamptz, '-infinity')" %}
        {%- set end_at = "coalesce(" ~ window_hint_value('end_at') ~ "::timestamptz, 'infinity')" %}
        {%- set shared = "coalesce(" ~ window_hint_value('shared') ~ "::boolean, true)" %}
        {%- if part != 'per_symbol' %}
    select filtered.*
    from {{ relation }} as filtered
    where
        {{ shared }}
        {#- Each bound twice, OR-ed. Rows are checked against the first form, an InitPlan read
            once per scan. The second form is the setting itself: the planner reads it when it
            plans (how many rows the window holds; partitions pruned), but evaluated per row
            it would cost a settings lookup and a timestamp parse on every row, so it comes
            second: a row inside the window passes the first form and never evaluates it.
            (The operators differ, > and >=, so that PostgreSQL does not merge the two into
            one = ANY (...) test; at microsecond precision they are the same bound.) #}
        and ({{ column }} >= (select {{ start_at }}) or {{ column }} > {{ start_at }} - interval '1 microsecond')
        and ({{ column }} < (select {{ end_at }}) or {{ column }} <= {{ end_at }} - interval '1 microsecond')
        {%- if symbols %}
            and filtered.symbol in ({% for symbol in symbols %}'{{ symbol }}'{{ ", " if not loop.last }}{% endfor %})
        {%- endif %}
        {%- endif %}
        {%- if part is none %}

    union all
        {%- endif %}
        {%- if part != 'shared' %}

    select filtered.*
    from json_to_recordset({{ window_hint_value('bounds') }}::json)
        as hinted (symbol text, window_start_at timestamptz, window_end_at timestamptz)
    cross join lateral (
        -- offset 0: planned per symbol (an index range, pruned to its partitions), not
        -- flattened into one join over every partition.
        select symbol_rows.*
        from {{ relation }} as symbol_rows
        where
            symbol_rows.symbol = hinted.symbol
            and symbol_rows.{{ time_column }} >= hinted.window_start_at
            and symbol_rows.{{ time_column }} < hinted.window_end_at
        offset 0
    ) as filtered
    where not {{ shared }}
        {%- endif %}
    {%- else %}
    select filtered.*
    from {{ relation }} as filtered
        {%- if exact %}
        inner join {{ bounds }}
            on
                filtered.symbol = {{ bounds }}.symbol
                and {{ column }} >= {{ bounds }}.window_start_at
                and {{ column }} < {{ bounds }}.window_end_at
        {%- endif %}
    where
        {%- if window_start_var() is not none %}
            {{ column }} >= {{ window_start_literal() }}
            and {{ column }} < {{ window_end_literal() }}
        {%- else %}
            {{ column }} >= (select min({{ bounds }}.window_start_at) from {{ bounds }})
            and {{ column }} < (select max({{ bounds }}.window_end_at) from {{ bounds }})
        {%- endif %}
        {%- if symbols %}
            and filtered.symbol in ({% for symbol in symbols %}'{{ symbol }}'{{ ", " if not loop.last }}{% endfor %})
        {%- endif %}
    {%- endif %}
{%- endmacro %}

{#- The `where` of a data test on a large table (config: where): the run's window, so a
    test reads what the run wrote. With window_start: that window, widened to `timeframe`
    buckets. Without: the last window_days days (plus a bucket) up to the newest
    bucket_start_at of `relation`, or, with no relation, up to the newest load (raw.load_ledger). -#}
{% macro window_test_filter(time_column, relation=none, timeframe='5m') -%}
    {%- set explicit_start = window_start_literal() -%}
    {%- if explicit_start is not none -%}
        {{ time_column }} >= {{ bucket_start(timeframe, explicit_start) }} and {{ time_column }} < {{ window_end_literal() }}
    {%- elif relation is not none -%}
        {{ time_column }} >= date_subtract(
            (select max(newest.bucket_start_at) from {{ relation }} as newest),
            interval '{{ window_days_var() }} days' + {{ timeframe_interval(timeframe) }}, 'UTC'
        )
    {%- else -%}
        {{ time_column }} >= date_subtract(
            (select max(newest.last_ts) from {{ source('raw', 'load_ledger') }} as newest),
            interval '{{ window_days_var() }} days', 'UTC'
        )
    {%- endif -%}
{%- endmacro %}
