with source as (
    select * from {{ source('raw', 'load_ledger') }}
),

renamed as (
    select
        load_id,
        source_kind,
        source as source_name,
        exchange,
        market,
        symbol,
        data_kind,
        first_ts as first_event_at,
        last_ts as last_event_at,
        rows_loaded,
        rows_rejected,
        loaded_at
    from source
)

select * from renamed
