{{ regimes_by_period('week', 'week_start_date', var('regime_weekly_threshold')) }}
