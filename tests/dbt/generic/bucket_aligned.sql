{#- Assert every value of column_name is the start of a `timeframe` bucket (macros/timeframes.sql):
    5m..1d on UTC multiples from midnight, 1w on Monday 00:00 UTC, 1mo on the 1st 00:00 UTC. -#}
{% test bucket_aligned(model, column_name, timeframe) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} <> {{ bucket_start(timeframe, column_name) }}

{% endtest %}
