{#-
    expression_is_true(model, expression, column_name=None)

    Offline fallback of the dbt_utils generic test. Fails on every row of the model (after the
    test's `where` config) for which `expression` is false; a row where it evaluates to NULL
    passes, as in the real package. Used on a column, the test checks
    `<column_name> <expression>`, e.g. expression '>= 0'.
    Failure count: the number of such rows; the rows themselves are returned for store_failures.
-#}
{% test expression_is_true(model, expression, column_name=None) %}
    {%- set checked = expression if column_name is none else column_name ~ " " ~ expression %}
select *
from {{ model }}
where not ({{ checked }})
{% endtest %}
