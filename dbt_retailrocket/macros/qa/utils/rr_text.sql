{% macro rr_text(expression) -%}
    cast({{ expression }} as {{ dbt.type_string() }})
{%- endmacro %}
