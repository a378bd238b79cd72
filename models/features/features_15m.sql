{{
    config(
        materialized='incremental',
        unique_key=['symbol', 'bucket_start_at'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        meta={'retention_timeframe': '15m'},
        indexes=[{'columns': ['symbol', 'bucket_start_at'], 'unique': true}],
    )
}}

{{ features_rollup('15m') }}
