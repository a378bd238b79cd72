{{ regimes_by_period('week', 'week_start_date', sniper_var('regime_weekly_threshold')) }}
