{{ regimes_by_period('month', 'month_start_date', var('regime_monthly_threshold')) }}
