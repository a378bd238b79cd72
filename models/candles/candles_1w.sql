{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['symbol', 'bucket_start_at'],
        on_schema_change='fail',
        indexes=[{'columns': ['symbol', 'bucket_start_at'], 'unique': true}],
        pre_hook="{{ candles_clear_window('1w', from_candles=ref('candles_1d')) }}",
        meta={'retention_timeframe': '1w'},
    )
}}

{{ candles_rollup('1w', from_candles=ref('candles_1d'), from_timeframe='1d') }}
