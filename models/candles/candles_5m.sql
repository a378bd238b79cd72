{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['symbol', 'bucket_start_at'],
        on_schema_change='fail',
        indexes=[{'columns': ['symbol', 'bucket_start_at'], 'unique': true}],
        pre_hook=["{{ candles_window_hint('5m') }}", "{{ candles_clear_window('5m') }}"],
        meta={'retention_timeframe': '5m'},
    )
}}

{{ candles_from_ticks('5m') }}
