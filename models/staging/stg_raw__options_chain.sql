with source as (
    select * from {{ source('raw', 'options_chain') }}
),

renamed as (
    select
        underlying,
        instrument,
        ts as snapshot_at,
        expiry_at,
        strike,
        option_type,
        open_interest,
        mark_price,
        mark_iv,
        delta,
        gamma,
        vega,
        underlying_price,
        contract_size,
        exchange
    from source
)

select * from renamed
