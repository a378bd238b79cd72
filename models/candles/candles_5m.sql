{{
    config(
        pre_hook="{{ candles_clear_window('5m') }}",
        meta={'retention_timeframe': '5m'},
    )
}}

{{ candles_from_ticks('5m') }}
