{{
    config(
        meta={'retention_timeframe': '15m'},
    )
}}

{{ features_rollup('15m') }}
