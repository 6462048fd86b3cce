{#-
    expect_column_values_to_be_between(model, column_name, min_value=None, max_value=None,
                                       row_condition=None, strictly=False)

    Offline fallback of the dbt_expectations generic test. Fails on every row (among those that
    satisfy `row_condition`, when given) whose value lies outside [min_value, max_value]
    (outside (min_value, max_value) when `strictly`). NULL values pass, as in the real package.
    Failure count: the number of such rows; the rows themselves are returned.
-#}
{% test expect_column_values_to_be_between(model, column_name, min_value=None, max_value=None, row_condition=None, strictly=False) %}
    {%- set within_bounds = dbt_expectations.rr_offline_bounds_condition(
        column_name, min_value, max_value, strictly, 'expect_column_values_to_be_between') %}
select *
from {{ model }}
where {% if row_condition %}({{ row_condition }}) and {% endif %}not ({{ within_bounds }})
{% endtest %}
