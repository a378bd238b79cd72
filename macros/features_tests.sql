{#- Assert every non-null value of column_name lies in [min_value, max_value]. -#}
{% test features_within(model, column_name, min_value, max_value) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}

{% endtest %}
