{#- Assert that no two spans of one `partition_by` value (columns, comma-separated; by default
    the instrument) overlap or meet: each row's span [from_column, until_column) starts after
    the previous one ended (merged coverage). -#}
{% test no_overlapping_spans(model, partition_by='exchange, market, symbol', from_column='covered_from_at',
                             until_column='covered_until_at') %}

with ordered as (
    select
        {{ partition_by }},
        {{ from_column }},
        lag({{ until_column }}) over (
            partition by {{ partition_by }} order by {{ from_column }}
        ) as previous_until_at
    from {{ model }}
)

select *
from ordered
where {{ from_column }} <= previous_until_at

{% endtest %}
