{#- Retention: deleting old buckets is an explicit act, never a side effect of a build.

    `sniper retention apply [--dry-run]` runs `dbt run-operation apply_retention`. The policy
    is the var `retention` (python/dbt_vars.py): per timeframe, how far behind each
    instrument's newest 5m candle its rows are kept; null (the default, for every timeframe) keeps all.
    Every incremental model declares the timeframe of its buckets in its config
    (meta.retention_timeframe), so one policy entry reaches every layer built from the same
    buckets: a 5m entry trims candles_5m and every 5m feature model alike, and no layer
    keeps buckets that another has dropped. Each model's deletion is logged (rows, cutoff);
    a real run records it in ops.retention_runs (one row per model and instrument, with the
    run's id), which the backfill planner reads so that it does not materialize expired days again.
    Deletions and their records commit together, at the end. -#}

{% macro apply_retention(run_id, dry_run=false) -%}
    {%- set policy = sniper_var('retention') -%}
    {%- set newest = ref('candles_5m') -%}
    {%- set results = [] -%}
    {%- if adapter.get_relation(newest.database, newest.schema, newest.identifier) is none -%}
        {%- do log('retention: nothing materialized yet', info=true) -%}
        {{ return(results) }}
    {%- endif -%}
    {%- for node in graph.nodes.values()
          if node.resource_type == 'model' and node.config.meta.get('retention_timeframe') in policy
             and policy[node.config.meta.get('retention_timeframe')] is not none -%}
        {%- set timeframe = node.config.meta.retention_timeframe -%}
        {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
        {%- if relation is not none -%}
            {%- set counted = run_query(retention_statement(relation, timeframe, newest, policy[timeframe], dry_run)) -%}
            {%- for row in counted.rows -%}
                {%- set instrument = row[0] ~ ':' ~ row[1] ~ ':' ~ row[2] -%}
                {%- do results.append(instrument) -%}
                {%- if not dry_run -%}
                    {%- do run_query(retention_record(run_id, node.name, timeframe, policy[timeframe], row)) -%}
                {%- endif -%}
                {%- do log('retention: ' ~ node.name ~ ' ' ~ instrument ~ ': ' ~ ('would delete ' if dry_run else 'deleted ')
                           ~ row[4] ~ ' rows, the buckets ending by ' ~ row[3] ~ ' (keeps ' ~ policy[timeframe] ~ ')', info=true) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not results -%}
        {%- do log('retention: the policy keeps everything (var retention); nothing to delete', info=true) -%}
    {%- endif -%}
    {%- if not dry_run -%}
        {%- do run_query('commit') -%}
    {%- endif -%}
{%- endmacro %}

{% macro retention_record(run_id, model, timeframe, keep, row) -%}
    insert into ops.retention_runs (
        run_id, model, timeframe, kept, exchange, market, symbol, cutoff_at, deleted_rows
    )
    values (
        '{{ sniper_uuid(run_id) }}', '{{ model }}', '{{ timeframe }}', '{{ keep }}',
        '{{ row[0] }}', '{{ row[1] }}', '{{ row[2] }}', timestamptz '{{ row[3] }}', {{ row[4] | int }}
    )
{%- endmacro %}

{#- A run id is a UUID: checked before it is written into SQL. -#}
{% macro sniper_uuid(text) -%}
    {%- if not modules.re.fullmatch('[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', text | string) -%}
        {{ exceptions.raise_compiler_error("run_id must be a UUID, got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return(text | string) }}
{%- endmacro %}

{#- Per instrument: (exchange, market, symbol, cutoff, rows deleted or, in a dry run, rows that
    would be). A bucket
    goes when it ends at or before the cutoff: one that straddles it stays whole. -#}
{% macro retention_statement(relation, timeframe, newest, keep, dry_run) -%}
    {%- set expired_bucket = bucket_end(timeframe, 'expired.bucket_start_at') ~ ' <= cutoffs.cutoff_at' %}
    with cutoffs as (
        select
            exchange,
            market,
            symbol,
            date_subtract(max(bucket_start_at), interval '{{ keep }}', 'UTC') as cutoff_at
        from {{ newest }}
        group by exchange, market, symbol
    ),

    {%- if dry_run %}
    expired as (
        select
            expired.exchange,
            expired.market,
            expired.symbol
        from {{ relation }} as expired
        inner join cutoffs
            on {{ same_instrument('expired', 'cutoffs') }} and {{ expired_bucket }}
    )
    {%- else %}
    expired as (
        delete from {{ relation }} as expired
        using cutoffs
        where {{ same_instrument('expired', 'cutoffs') }} and {{ expired_bucket }}
        returning
            expired.exchange,
            expired.market,
            expired.symbol
    )
    {%- endif %}

    select
        cutoffs.exchange,
        cutoffs.market,
        cutoffs.symbol,
        cutoffs.cutoff_at,
        count(expired.symbol) as deleted_rows
    from cutoffs
    left join expired on {{ same_instrument('cutoffs', 'expired') }}
    group by cutoffs.exchange, cutoffs.market, cutoffs.symbol, cutoffs.cutoff_at
    order by cutoffs.exchange, cutoffs.market, cutoffs.symbol
{%- endmacro %}
