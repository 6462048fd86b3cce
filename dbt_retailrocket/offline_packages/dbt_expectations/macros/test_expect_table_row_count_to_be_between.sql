{#-
    expect_table_row_count_to_be_between(model, min_value=None, max_value=None, group_by=None,
                                         row_condition=None, strictly=False)

    Offline fallback of the dbt_expectations generic test. Counts the rows that satisfy
    `row_condition` (all rows when not given) and fails when the count lies outside
    [min_value, max_value] (outside (min_value, max_value) when `strictly`). With `group_by` (a
    list of columns or expressions) every group is counted on its own and each group outside the
    bounds is one failure; groups with no rows do not exist, so they cannot fail. Without
    `group_by` an empty table counts 0 rows.
    Failure count: 0 or 1 without group_by, the number of failing groups with it; each failing
    row carries the group values and `row_count`.
-#}
{% test expect_table_row_count_to_be_between(model, min_value=None, max_value=None, group_by=None, row_condition=None, strictly=False) %}
    {%- if group_by and (group_by is string or group_by is mapping or group_by is not iterable) -%}
        {{- exceptions.raise_compiler_error(
            "dbt_expectations.expect_table_row_count_to_be_between (retailrocket offline fallback): group_by "
            ~ "must be a list of columns, got " ~ group_by | string
        ) -}}
    {%- endif -%}
    {%- set within_bounds = dbt_expectations.rr_offline_bounds_condition(
        'row_count', min_value, max_value, strictly, 'expect_table_row_count_to_be_between') %}
with counted as (
    select
        {%- if group_by %}
        {%- for column in group_by %}
        {{ column }},
        {%- endfor %}
        {%- endif %}
        count(*) as row_count
    from {{ model }}
    {%- if row_condition %}
    where {{ row_condition }}
    {%- endif %}
    {%- if group_by %}
    group by {{ group_by | join(", ") }}
    {%- endif %}
)

select *
from counted
where not ({{ within_bounds }})
{% endtest %}
