{#- Assert every row's `columns` (a composite key) name a row of `to` (a ref or source):
    the composite-key form of dbt's relationships test. `to_columns` names the columns in `to`
    when they are called otherwise (same order). Rows with a null in the key are not checked. -#}
{% test relationships_combination(model, to, columns, to_columns=none) %}
{%- set parent_columns = to_columns or columns %}

with children as (
    select distinct {{ columns | join(', ') }}
    from {{ model }}
    where
        {%- for column in columns %}
        {{ column }} is not null{{ " and" if not loop.last }}
        {%- endfor %}
),

parents as (
    select distinct {{ parent_columns | join(', ') }}
    from {{ to }}
)

select children.*
from children
where not exists (
    select 1
    from parents
    where
        {%- for column in columns %}
        parents.{{ parent_columns[loop.index0] }} = children.{{ column }}{{ " and" if not loop.last }}
        {%- endfor %}
)

{% endtest %}
