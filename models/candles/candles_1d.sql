{{
    config(
        pre_hook="{{ candles_clear_window('1d') }}",
        meta={'retention_timeframe': '1d'},
    )
}}

{{ candles_rollup('1d', from_candles=ref('candles_5m'), from_timeframe='5m') }}
