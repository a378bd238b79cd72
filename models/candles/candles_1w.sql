{{
    config(
        pre_hook="{{ candles_clear_window('1w') }}",
        meta={'retention_timeframe': '1w'},
    )
}}

{{ candles_rollup('1w', from_candles=ref('candles_1d'), from_timeframe='1d') }}
