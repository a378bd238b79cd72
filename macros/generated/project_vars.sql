{#- GENERATED from python/dbt_vars.py (ProjectVars) by `python -m sniper.dbt_vars`: do not edit.
    The JSON schema of every project var: allowed values and defaults (macros/vars.sql). -#}
{% macro project_vars_schema() -%}
{{ return(fromjson('{
  "additionalProperties": false,
  "description": "The dbt vars (``--vars``) of the sniper project, with their defaults.",
  "properties": {
    "coverage_merge_gap_seconds": {
      "default": 1.0,
      "maximum": 60,
      "minimum": 0,
      "title": "Coverage Merge Gap Seconds",
      "type": "number"
    },
    "coverage_required_bear_months": {
      "default": 2,
      "maximum": 120,
      "minimum": 0,
      "title": "Coverage Required Bear Months",
      "type": "integer"
    },
    "coverage_required_bull_months": {
      "default": 2,
      "maximum": 120,
      "minimum": 0,
      "title": "Coverage Required Bull Months",
      "type": "integer"
    },
    "coverage_required_months": {
      "default": 6,
      "maximum": 120,
      "minimum": 0,
      "title": "Coverage Required Months",
      "type": "integer"
    },
    "coverage_required_sideways_months": {
      "default": 1,
      "maximum": 120,
      "minimum": 0,
      "title": "Coverage Required Sideways Months",
      "type": "integer"
    },
    "cvd_rolling_buckets": {
      "default": 12,
      "maximum": 2016,
      "minimum": 1,
      "title": "Cvd Rolling Buckets",
      "type": "integer"
    },
    "depth_band_max_age_minutes": {
      "default": 15,
      "maximum": 1440,
      "minimum": 1,
      "title": "Depth Band Max Age Minutes",
      "type": "integer"
    },
    "force_recompute": {
      "default": false,
      "title": "Force Recompute",
      "type": "boolean"
    },
    "funding_max_age_hours": {
      "default": 9,
      "maximum": 48,
      "minimum": 1,
      "title": "Funding Max Age Hours",
      "type": "integer"
    },
    "gamma_exposure_sign_convention": {
      "default": "calls_positive",
      "enum": [
        "calls_positive",
        "puts_positive"
      ],
      "title": "Gamma Exposure Sign Convention",
      "type": "string"
    },
    "gamma_snapshot_max_age_minutes": {
      "default": 120,
      "maximum": 1440,
      "minimum": 1,
      "title": "Gamma Snapshot Max Age Minutes",
      "type": "integer"
    },
    "gamma_zero_grid_range_pct": {
      "default": 20,
      "exclusiveMinimum": 0,
      "maximum": 90,
      "title": "Gamma Zero Grid Range Pct",
      "type": "number"
    },
    "gamma_zero_grid_step_pct": {
      "default": 0.5,
      "exclusiveMinimum": 0,
      "maximum": 10,
      "title": "Gamma Zero Grid Step Pct",
      "type": "number"
    },
    "iceberg_lookback_minutes": {
      "default": 60,
      "maximum": 1440,
      "minimum": 1,
      "title": "Iceberg Lookback Minutes",
      "type": "integer"
    },
    "iceberg_min_refills": {
      "default": 3,
      "maximum": 1000,
      "minimum": 1,
      "title": "Iceberg Min Refills",
      "type": "integer"
    },
    "instruments": {
      "anyOf": [
        {
          "items": {
            "pattern": "^[a-z][a-z0-9_]{0,19}:(spot|um):[A-Z0-9]{2,20}$",
            "type": "string"
          },
          "type": "array"
        },
        {
          "type": "null"
        }
      ],
      "default": null,
      "title": "Instruments"
    },
    "l1_quote_max_age_seconds": {
      "default": 60,
      "maximum": 300,
      "minimum": 1,
      "title": "L1 Quote Max Age Seconds",
      "type": "integer"
    },
    "label_fee_per_side": {
      "default": 0.0004,
      "maximum": 0.01,
      "minimum": 0,
      "title": "Label Fee Per Side",
      "type": "number"
    },
    "label_horizon_buckets": {
      "default": 6,
      "maximum": 288,
      "minimum": 1,
      "title": "Label Horizon Buckets",
      "type": "integer"
    },
    "label_stop_loss_vol": {
      "default": 1.0,
      "exclusiveMinimum": 0,
      "maximum": 20,
      "title": "Label Stop Loss Vol",
      "type": "number"
    },
    "label_take_profit_vol": {
      "default": 1.0,
      "exclusiveMinimum": 0,
      "maximum": 20,
      "title": "Label Take Profit Vol",
      "type": "number"
    },
    "label_vol_lookback_buckets": {
      "default": 48,
      "maximum": 2016,
      "minimum": 2,
      "title": "Label Vol Lookback Buckets",
      "type": "integer"
    },
    "open_interest_max_age_minutes": {
      "default": 15,
      "maximum": 1440,
      "minimum": 5,
      "title": "Open Interest Max Age Minutes",
      "type": "integer"
    },
    "regime_daily_lookback_days": {
      "default": 30,
      "maximum": 366,
      "minimum": 2,
      "title": "Regime Daily Lookback Days",
      "type": "integer"
    },
    "regime_daily_min_lookback_days": {
      "default": 5,
      "maximum": 366,
      "minimum": 2,
      "title": "Regime Daily Min Lookback Days",
      "type": "integer"
    },
    "regime_daily_threshold": {
      "default": 1.0,
      "exclusiveMinimum": 0,
      "maximum": 100,
      "title": "Regime Daily Threshold",
      "type": "number"
    },
    "regime_monthly_threshold": {
      "default": 0.8,
      "exclusiveMinimum": 0,
      "maximum": 100,
      "title": "Regime Monthly Threshold",
      "type": "number"
    },
    "regime_weekly_threshold": {
      "default": 0.8,
      "exclusiveMinimum": 0,
      "maximum": 100,
      "title": "Regime Weekly Threshold",
      "type": "number"
    },
    "retention": {
      "additionalProperties": {
        "anyOf": [
          {
            "pattern": "^[1-9][0-9]{0,3} (days|weeks|months)$",
            "type": "string"
          },
          {
            "type": "null"
          }
        ]
      },
      "default": {
        "15m": null,
        "1d": null,
        "1h": null,
        "1mo": null,
        "1w": null,
        "4h": null,
        "5m": null
      },
      "propertyNames": {
        "enum": [
          "5m",
          "15m",
          "1h",
          "4h",
          "1d",
          "1w",
          "1mo"
        ]
      },
      "title": "Retention",
      "type": "object"
    },
    "trade_load_coverage": {
      "default": {
        "ticks": "day",
        "trade+bookTicker": "span",
        "trades": "day"
      },
      "patternProperties": {
        "^[A-Za-z0-9_+]{1,40}$": {
          "enum": [
            "day",
            "span"
          ],
          "type": "string"
        }
      },
      "title": "Trade Load Coverage",
      "type": "object"
    },
    "whale_min_notional": {
      "default": 100000,
      "exclusiveMinimum": 0,
      "maximum": 1000000000000.0,
      "title": "Whale Min Notional",
      "type": "number"
    },
    "window_days": {
      "default": 7,
      "maximum": 92,
      "minimum": 1,
      "title": "Window Days",
      "type": "integer"
    },
    "window_end_minute": {
      "anyOf": [
        {
          "maximum": 132480,
          "minimum": 5,
          "type": "integer"
        },
        {
          "type": "null"
        }
      ],
      "default": null,
      "title": "Window End Minute"
    },
    "window_first_minute": {
      "default": 0,
      "maximum": 132480,
      "minimum": 0,
      "title": "Window First Minute",
      "type": "integer"
    },
    "window_start": {
      "anyOf": [
        {
          "format": "date",
          "type": "string",
          "x-earliest": "2009-01-03",
          "x-max-days-ahead": 366
        },
        {
          "type": "null"
        }
      ],
      "default": null,
      "title": "Window Start"
    }
  },
  "title": "ProjectVars",
  "type": "object"
}')) }}
{%- endmacro %}
