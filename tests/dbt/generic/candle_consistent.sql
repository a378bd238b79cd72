{#- Assert a candle row is internally consistent: low <= open, close <= high; volumes add up
    (taker buy + taker sell = volume, relative 1e-9); vwap lies within [low, high]; the first
    trade id is not after the last; an empty bucket has no trades, no volume, no vwap and
    open = high = low = close (the previous close; null only before an instrument's first trade);
    a bucket with trades is not empty and knows its first and last trade. -#}
{% test candle_consistent(model) %}

with checked as (
    select
        *,
        coalesce(
            abs(volume - taker_buy_volume - taker_sell_volume) <= 1e-9 * greatest(volume, 1)
            and taker_buy_volume >= 0
            and taker_sell_volume >= 0
            and is_empty = (trade_count = 0)
            and (
                (
                    is_empty
                    and volume = 0
                    and quote_volume = 0
                    and vwap is null
                    and first_trade_id is null
                    and last_trade_id is null
                    and (open is null and high is null and low is null and close is null
                        or open = high and high = low and low = close)
                )
                or (
                    not is_empty
                    and low <= open and open <= high
                    and low <= close and close <= high
                    and vwap >= low * (1 - 1e-9) and vwap <= high * (1 + 1e-9)
                    and first_trade_id <= last_trade_id
                )
            ),
            false
        ) as is_consistent
    from {{ model }}
)

select *
from checked
where not is_consistent

{% endtest %}
