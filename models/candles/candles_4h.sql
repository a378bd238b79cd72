{{
    config(
        pre_hook="{{ candles_clear_window('4h') }}",
        meta={'retention_timeframe': '4h'},
    )
}}

{{ candles_rollup('4h', from_candles=ref('candles_5m'), from_timeframe='5m') }}
