{#- An instrument is (exchange, market, symbol): the spot and the USD-M perpetual BTCUSDT
    are two instruments and never meet in one aggregate. Every model keys by all three
    columns, in this order, never by the symbol alone (tests/test_instrument_keys.py);
    python/instruments.py is the Python side. -#}

{#- Does `left` hold the same instrument as `right` (two relation aliases)? A join condition. -#}
{% macro same_instrument(left, right) -%}
    {{ left }}.exchange = {{ right }}.exchange
    and {{ left }}.market = {{ right }}.market
    and {{ left }}.symbol = {{ right }}.symbol
{%- endmacro %}
