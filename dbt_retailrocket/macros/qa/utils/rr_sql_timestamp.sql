{% macro rr_sql_timestamp(value) -%}
    {%- if value is none -%}cast(null as timestamp){%- else -%}cast('{{ value.strftime('%Y-%m-%d %H:%M:%S.%f') }}' as timestamp){%- endif -%}
{%- endmacro %}
