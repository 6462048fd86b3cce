{% macro rr_sql_text(value) -%}
    {#- A SQL text literal of `value` (null for none), escaped the warehouse's way. -#}
    {%- if value is none -%}null{%- else -%}'{{ adapter.dispatch('rr_escape_text')(value | string) }}'{%- endif -%}
{%- endmacro %}

{% macro default__rr_escape_text(text) -%}
    {{- return(text.replace("'", "''")) -}}
{%- endmacro %}

{% macro spark__rr_escape_text(text) -%}
    {#- Spark reads backslash escapes in literals, and 'a''b' as two adjacent literals ('ab') -#}
    {{- return(text.replace("\\", "\\\\").replace("'", "\\'")) -}}
{%- endmacro %}
