{{
    config(
        pre_hook="{{ candles_clear_window('15m') }}",
        meta={'retention_timeframe': '15m'},
    )
}}

{{ candles_rollup('15m', from_candles=ref('candles_5m'), from_timeframe='5m') }}
