{#- Small expressions the feature models share. -#}

{#- The UTC bucket of a timestamp: buckets start on multiples of `minutes` from midnight UTC. -#}
{% macro features_bucket(timestamp_column, minutes=5) -%}
    date_bin(interval '{{ minutes }} minutes', {{ timestamp_column }}, timestamptz '2000-01-01 00:00:00+00')
{%- endmacro %}

{#- The options underlying of a spot or perpetual symbol: the symbol without its quote
    currency (BTCUSDT -> BTC, ETHUSDC -> ETH). -#}
{% macro features_underlying_of(symbol_column) -%}
    regexp_replace({{ symbol_column }}, '(USDT|USDC|FDUSD|BUSD|USD)$', '')
{%- endmacro %}

{#- Black-Scholes gamma (zero rates) at spot level `spot` of a contract with `strike`,
    implied volatility `vol` (a fraction) and `years` to expiry: pdf(d1) / (spot vol sqrt(years)).
    The exponent is capped at 700 (pdf ~ 1e-304) because exp() raises on underflow. -#}
{% macro features_bs_gamma(spot, strike, vol, years) -%}
    exp(-least(0.5 * power((ln({{ spot }} / {{ strike }}) + 0.5 * {{ vol }} * {{ vol }} * {{ years }})
        / ({{ vol }} * sqrt({{ years }})), 2), 700))
    / sqrt(2 * pi()) / ({{ spot }} * {{ vol }} * sqrt({{ years }}))
{%- endmacro %}

{#- +1 for the option type the gamma_exposure_sign_convention var counts positive, else -1. -#}
{% macro features_gamma_sign(option_type_column) -%}
    {%- set convention = var('gamma_exposure_sign_convention') -%}
    {%- if convention == 'calls_positive' -%}
        case when {{ option_type_column }} = 'call' then 1 else -1 end
    {%- elif convention == 'puts_positive' -%}
        case when {{ option_type_column }} = 'put' then 1 else -1 end
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "gamma_exposure_sign_convention must be calls_positive or puts_positive, got " ~ convention) }}
    {%- endif -%}
{%- endmacro %}
