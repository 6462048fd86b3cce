{#- Every value of `column_name` (a key such as transaction_id) comes with exactly one value of
    each column in `value_columns` (e.g. one visitor and one timestamp). Fails one row per key
    that has several, with the number of distinct values of each column. -#}
{% test rr_one_value_per_key(model, column_name, value_columns) %}

select
    {{ column_name }} as key_value,
    {%- for value_column in value_columns %}
    count(distinct {{ value_column }}) as distinct_{{ value_column }}_values{{ ',' if not loop.last }}
    {%- endfor %}
from {{ model }}
where {{ column_name }} is not null
group by 1
having {% for value_column in value_columns -%}
    count(distinct {{ value_column }}) > 1{{ ' or ' if not loop.last }}
{%- endfor %}

{% endtest %}
