{#-
    expect_column_values_to_be_in_set(model, column_name, value_set, quote_values=True,
                                      row_condition=None)

    Offline fallback of the dbt_expectations generic test. Fails on every row (among those that
    satisfy `row_condition`, when given) whose value is not one of `value_set`. A NULL value is
    not in any set, so it FAILS, as in the real package. With `quote_values` (the default) each
    value is compared as a string literal cast to the adapter's string type (single quotes in a
    value are escaped by dbt.escape_single_quotes, which dispatches per adapter: '' on DuckDB and
    PostgreSQL, \' on Spark); with `quote_values: false` the values are inserted as written (numbers,
    or SQL expressions).
    Failure count: the number of such rows; the rows themselves are returned.
-#}
{% test expect_column_values_to_be_in_set(model, column_name, value_set, quote_values=True, row_condition=None) %}
    {%- if value_set is string or value_set is mapping or value_set is not iterable or value_set | length == 0 -%}
        {{- exceptions.raise_compiler_error(
            "dbt_expectations.expect_column_values_to_be_in_set (retailrocket offline fallback): value_set "
            ~ "must be a non-empty list, got " ~ value_set | string
        ) -}}
    {%- endif -%}
    {%- set members = [] -%}
    {%- for value in value_set -%}
        {%- if quote_values -%}
            {%- do members.append("cast('" ~ dbt.escape_single_quotes(value | string) ~ "' as " ~ dbt.type_string() ~ ")") -%}
        {%- else -%}
            {%- do members.append(value | string) -%}
        {%- endif -%}
    {%- endfor %}
select *
from {{ model }}
where {% if row_condition %}({{ row_condition }}) and {% endif %}not coalesce({{ column_name }} in ({{ members | join(", ") }}), false)
{% endtest %}
