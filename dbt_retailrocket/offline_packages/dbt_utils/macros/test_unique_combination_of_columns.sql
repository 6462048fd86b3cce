{#-
    unique_combination_of_columns(model, combination_of_columns, quote_columns=false)

    Offline fallback of the dbt_utils generic test. Fails once per combination of values of
    `combination_of_columns` that occurs on more than one row; NULLs group together, so two rows
    with the same values and NULL in the same columns are duplicates. With a truthy
    `quote_columns` each column name is quoted for the adapter (for names such as "order").
    Failure count: the number of duplicated combinations (not rows); each failing row carries the
    combination and its row count `n_records`.
-#}
{% test unique_combination_of_columns(model, combination_of_columns, quote_columns=false) %}
    {%- if combination_of_columns is string or combination_of_columns is not iterable
          or combination_of_columns | length == 0 -%}
        {{- exceptions.raise_compiler_error(
            "dbt_utils.unique_combination_of_columns (retailrocket offline fallback): combination_of_columns "
            ~ "must be a non-empty list of column names, got " ~ combination_of_columns | string
        ) -}}
    {%- endif -%}
    {%- set columns = [] -%}
    {%- for column in combination_of_columns -%}
        {%- do columns.append(adapter.quote(column) if quote_columns else column) -%}
    {%- endfor %}
select
    {{ columns | join(",\n    ") }},
    count(*) as n_records
from {{ model }}
group by {{ columns | join(", ") }}
having count(*) > 1
{% endtest %}
