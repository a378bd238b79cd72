{#- Models land in the schema their folder names (staging, candles, regimes, ...),
    not "<target schema>_<folder>": analysts type candles.candles_5m. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
