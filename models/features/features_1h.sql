{{
    config(
        meta={'retention_timeframe': '1h'},
    )
}}

{{ features_rollup('1h') }}
