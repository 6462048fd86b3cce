{#-
    rr_offline_bounds_condition(expression, min_value, max_value, strictly, test_name)

    Internal helper of this offline fallback (not part of the dbt_expectations API): the SQL
    condition "expression lies within the bounds". A missing bound (None) is not checked; 0 is a
    bound like any other. Bounds are SQL literals or expressions inserted as written, so dates
    need their quotes ("'2015-05-03'"). Not `strictly`: inclusive (>=, <=); `strictly`: exclusive
    (>, <). Giving neither bound is a compile error, as in the real package.
-#}
{%- macro rr_offline_bounds_condition(expression, min_value, max_value, strictly, test_name) -%}
    {%- if min_value is none and max_value is none -%}
        {{- exceptions.raise_compiler_error(
            "dbt_expectations." ~ test_name ~ " (retailrocket offline fallback): "
            ~ "give min_value, max_value or both; a range without any bound checks nothing"
        ) -}}
    {%- endif -%}
    {%- set equal = '' if strictly else '=' -%}
    {%- set checks = [] -%}
    {%- if min_value is not none -%}
        {%- do checks.append(expression ~ " >" ~ equal ~ " " ~ min_value) -%}
    {%- endif -%}
    {%- if max_value is not none -%}
        {%- do checks.append(expression ~ " <" ~ equal ~ " " ~ max_value) -%}
    {%- endif -%}
    {{- return(checks | join(" and ")) -}}
{%- endmacro -%}
