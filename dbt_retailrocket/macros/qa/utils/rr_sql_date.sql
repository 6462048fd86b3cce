{% macro rr_sql_date(value) -%}
    {%- if value is none -%}cast(null as date){%- else -%}{{ rr_date_literal(value) }}{%- endif -%}
{%- endmacro %}
