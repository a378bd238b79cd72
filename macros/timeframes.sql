{#- Candle timeframes: the one definition of how a timestamp falls into a bucket.

    Keys are the suffixes of the candle models (candles_5m ... candles_1mo). Fixed-length
    timeframes bin on a Monday 00:00 UTC origin, so days start at midnight UTC and weeks
    on Monday (the exchange's week); 1mo is the calendar month in UTC. Every expression is
    independent of the session's TimeZone. -#}

{% macro timeframes() -%}
    {{ return({
        '5m': {'interval': '5 minutes', 'fixed': true},
        '15m': {'interval': '15 minutes', 'fixed': true},
        '1h': {'interval': '1 hour', 'fixed': true},
        '4h': {'interval': '4 hours', 'fixed': true},
        '1d': {'interval': '1 day', 'fixed': true},
        '1w': {'interval': '7 days', 'fixed': true},
        '1mo': {'interval': '1 month', 'fixed': false},
    }) }}
{%- endmacro %}

{% macro timeframe(name) -%}
    {%- set known = timeframes() -%}
    {%- if name not in known -%}
        {{ exceptions.raise_compiler_error("unknown timeframe '" ~ name ~ "': expected one of " ~ (known.keys() | join(', '))) }}
    {%- endif -%}
    {{ return(known[name]) }}
{%- endmacro %}

{#- SQL interval literal of a timeframe, e.g. interval '5 minutes'. -#}
{% macro timeframe_interval(name) -%}
    interval '{{ timeframe(name).interval }}'
{%- endmacro %}

{#- Start of the bucket holding timestamp expression `ts`. -#}
{% macro bucket_start(name, ts) -%}
    {%- if timeframe(name).fixed -%}
        date_bin({{ timeframe_interval(name) }}, {{ ts }}, timestamptz '2000-01-03 00:00:00+00')
    {%- else -%}
        date_trunc('month', {{ ts }}, 'UTC')
    {%- endif -%}
{%- endmacro %}

{#- End (exclusive) of the bucket starting at `start`. date_add in UTC: a plain
    timestamptz + interval '1 day' follows the session's TimeZone (23 or 25 hours across a
    daylight-saving change). -#}
{% macro bucket_end(name, start) -%}
    date_add({{ start }}, {{ timeframe_interval(name) }}, 'UTC')
{%- endmacro %}
