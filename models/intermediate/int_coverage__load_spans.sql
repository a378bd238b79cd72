-- One row per load of trades (a raw.load_ledger row, of any instrument, whose data_kind
-- is a key of var trade_load_coverage): the span of time it covers. The one
-- place that turns a load into covered time; trade_coverage merges these spans, and
-- materialization_days knows from them which days a load touched, and when.
with ledger as (
    select * from {{ ref('stg_raw__load_ledger') }}
    where
        exchange is not null
        and market is not null
        and symbol is not null
        and first_event_at is not null
        and last_event_at is not null
),

classified as (
    select
        load_id,
        source_kind,
        exchange,
        market,
        symbol,
        loaded_at,
        first_event_at,
        last_event_at,
        case data_kind
            {%- for data_kind, covers in sniper_var('trade_load_coverage').items() %}
                when '{{ data_kind }}' then '{{ covers }}'
            {%- endfor %}
        end as covers
    from ledger
),

load_spans as (
    select
        load_id,
        source_kind,
        exchange,
        market,
        symbol,
        loaded_at,
        case
            when covers = 'day' then date_trunc('day', first_event_at, 'UTC')
            else first_event_at
        end as covered_from_at,
        case
            -- A day's file ends before the next midnight; a synthetic day is ledgered up
            -- to the next midnight exactly: either way the day is covered to midnight.
            when covers = 'day'
                then date_add(
                    date_trunc('day', greatest(first_event_at, last_event_at - interval '1 microsecond'), 'UTC'),
                    interval '1 day',
                    'UTC'
                )
            else last_event_at
        end as covered_until_at
    from classified
    where covers in ('day', 'span')
)

select * from load_spans
