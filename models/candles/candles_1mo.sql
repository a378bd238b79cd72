{{
    config(
        pre_hook="{{ candles_clear_window('1mo') }}",
        meta={'retention_timeframe': '1mo'},
    )
}}

{{ candles_rollup('1mo', from_candles=ref('candles_1d'), from_timeframe='1d') }}
