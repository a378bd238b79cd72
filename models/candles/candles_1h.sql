{{
    config(
        pre_hook="{{ candles_clear_window('1h') }}",
        meta={'retention_timeframe': '1h'},
    )
}}

{{ candles_rollup('1h', from_candles=ref('candles_5m'), from_timeframe='5m') }}
