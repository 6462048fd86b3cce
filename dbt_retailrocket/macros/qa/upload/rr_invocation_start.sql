{% macro rr_invocation_start() -%}
    {#- This invocation's start row: {catalog_id, definitions: {sha256, version, problem}}. -#}
    {%- set found = run_query('select catalog_id, definitions_sha256, definitions_version, definitions_problem from '
        ~ rr_history_relation('rr_invocations') ~ ' where invocation_id = ' ~ rr_sql_text(invocation_id) ~ " and phase = 'start'") -%}
    {%- if found.rows | length == 0 -%}
        {%- do exceptions.raise_compiler_error('this invocation has no start row in qa.rr_invocations: on-run-start did not run') -%}
    {%- endif -%}
    {%- set row = found.rows[0] -%}
    {{- return({'catalog_id': row[0], 'definitions': {'sha256': row[1], 'version': none if row[2] is none else row[2] | int, 'problem': row[3]}}) -}}
{%- endmacro %}
