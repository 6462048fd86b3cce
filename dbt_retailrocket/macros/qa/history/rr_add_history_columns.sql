{% macro rr_add_history_columns(node) -%}
    {#- Statements appending to an existing history table the columns its contract gained since
        it was created (a warehouse of an earlier version keeps every row; the new columns are
        null there). One catalog query per table: called when a new version of the project first
        runs (rr_on_run_start). -#}
    {%- set relation = rr_history_relation_object(node) -%}
    {%- if relation is none -%}{{ return([]) }}{%- endif -%}
    {%- set existing = rr_relation_columns(node.schema, node.alias or node.name) -%}
    {%- set statements = [] -%}
    {%- for column in node.columns.values() if column.name | lower not in existing -%}
        {%- do statements.append(adapter.dispatch('rr_add_column_sql')(rr_history_relation(node.name), column.name, rr_history_type(column.data_type))) -%}
    {%- endfor -%}
    {{- return(statements) -}}
{%- endmacro %}

{% macro default__rr_add_column_sql(table, column, data_type) -%}
    alter table {{ table }} add column if not exists {{ column }} {{ data_type }}
{%- endmacro %}

{% macro spark__rr_add_column_sql(table, column, data_type) -%}
    alter table {{ table }} add columns ({{ column }} {{ data_type }})
{%- endmacro %}
