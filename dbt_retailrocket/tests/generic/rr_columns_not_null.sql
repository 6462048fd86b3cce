{#- gate_nulls: none of `columns` holds a NULL. One test per model instead of one per column
    (a daily run pays dbt's fixed cost per test); each failing row names a column and how many
    of its rows are NULL, so the failure says exactly what is missing. -#}
{% test rr_columns_not_null(model, columns) %}
{%- if columns is string or columns | length == 0 -%}
    {{ exceptions.raise_compiler_error("rr_columns_not_null: columns must be a non-empty list of column names") }}
{%- endif %}

with

null_counts as (

    select
        {%- for column in columns %}
        count(case when {{ column }} is null then 1 end) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

)

{% for column in columns -%}
select '{{ column }}' as column_name, {{ column }} as null_rows from null_counts where {{ column }} > 0
{% if not loop.last %}union all
{% endif -%}
{%- endfor %}

{% endtest %}
