{#- Which barrier a side touched first, from the first step at which each was touched.
    A tie (both inside one bucket) is a stop: the conservative reading. -#}
{% macro triple_barrier_outcome(take_profit_step, stop_loss_step) -%}
    case
        when {{ stop_loss_step }} is not null
            and ({{ take_profit_step }} is null or {{ stop_loss_step }} <= {{ take_profit_step }})
            then 'stop_loss'
        when {{ take_profit_step }} is not null then 'take_profit'
        else 'horizon'
    end
{%- endmacro %}
