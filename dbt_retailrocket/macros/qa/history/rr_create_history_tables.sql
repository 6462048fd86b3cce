{% macro rr_create_history_tables() -%}
    {#- Statements creating the history tables that do not exist yet (the relation cache knows;
        no query), schema qa first: on-run-start runs them before it appends its first row, so
        any dbt command works on a new warehouse. [] when every table exists. -#}
    {%- set statements = [] -%}
    {%- for node in rr_history_nodes() if rr_history_relation_object(node) is none -%}
        {%- if statements | length == 0 -%}
            {%- do statements.append(adapter.dispatch('rr_create_schema_sql')(node.schema)) -%}
        {%- endif -%}
        {%- do statements.append(rr_history_ddl(node)) -%}
    {%- endfor -%}
    {{- return(statements) -}}
{%- endmacro %}


{% macro rr_history_relation_object(node) -%}
    {#- The relation of a history table as the relation cache knows it (none: missing). -#}
    {{- return(adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias or node.name)) -}}
{%- endmacro %}


{% macro rr_cache_history_tables() -%}
    {#- After on-run-start created the missing tables: the relation cache learns them, so that
        the models' materialization (rr_history) finds them without a query. -#}
    {%- for node in rr_history_nodes() -%}
        {%- do adapter.cache_added(api.Relation.create(database=node.database, schema=node.schema,
            identifier=node.alias or node.name, type='table')) -%}
    {%- endfor -%}
{%- endmacro %}

{% macro default__rr_create_schema_sql(schema) -%}create schema if not exists {{ schema }}{%- endmacro %}
