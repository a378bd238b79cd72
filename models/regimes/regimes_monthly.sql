{{ regimes_by_period('month', 'month_start_date', sniper_var('regime_monthly_threshold')) }}
