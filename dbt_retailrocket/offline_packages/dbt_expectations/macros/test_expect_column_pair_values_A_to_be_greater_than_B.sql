{#-
    expect_column_pair_values_A_to_be_greater_than_B(model, column_A, column_B, or_equal=False,
                                                     row_condition=None)

    Offline fallback of the dbt_expectations generic test. Fails on every row (among those that
    satisfy `row_condition`, when given) where column_A is not greater than column_B (not greater
    or equal when `or_equal`). A row where either side is NULL passes, as in the real package.
    Failure count: the number of such rows; the rows themselves are returned.
-#}
{% test expect_column_pair_values_A_to_be_greater_than_B(model, column_A, column_B, or_equal=False, row_condition=None) %}
select *
from {{ model }}
where {% if row_condition %}({{ row_condition }}) and {% endif %}not ({{ column_A }} {{ '>=' if or_equal else '>' }} {{ column_B }})
{% endtest %}
