{% macro rr_relation_type(schema, name) -%}
    {#- 'BASE TABLE', 'VIEW' or none: from one catalog query of the schema (rr_relation_types). -#}
    {{- return(rr_relation_types(schema).get(name | lower)) -}}
{%- endmacro %}


{% macro rr_relation_types(schema) -%}
    {#- {lower-case name: 'BASE TABLE' | 'VIEW'} of every relation in `schema` now, by a plain
        catalog query (never the relation cache, which does not know what this invocation's hooks
        created): one query however many of its relations a hook asks about. -#}
    {{- return(adapter.dispatch('rr_relation_types')(schema)) -}}
{%- endmacro %}

{% macro default__rr_relation_types(schema) -%}
    {%- set found = run_query(
        "select table_name, table_type from information_schema.tables where table_schema = '" ~ schema ~ "'") -%}
    {%- set types = {} -%}
    {%- for row in found.rows -%}
        {%- do types.update({row[0] | lower: 'VIEW' if row[1] == 'VIEW' else 'BASE TABLE'}) -%}
    {%- endfor -%}
    {{- return(types) -}}
{%- endmacro %}

{% macro spark__rr_relation_types(schema) -%}
    {#- Spark has no information_schema: SHOW TABLES lists tables and views (and the session's
        temporary views, which belong to no schema), SHOW VIEWS the views. -#}
    {%- set types = {} -%}
    {%- if run_query("show databases like '" ~ schema ~ "'").rows | length == 0 -%}{{ return(types) }}{%- endif -%}
    {%- for row in run_query("show tables in " ~ schema).rows if not row[2] -%}
        {%- do types.update({row[1] | lower: 'BASE TABLE'}) -%}
    {%- endfor -%}
    {%- if types -%}
        {%- for row in run_query("show views in " ~ schema).rows if not row[2] -%}
            {%- if (row[1] | lower) in types -%}{%- do types.update({row[1] | lower: 'VIEW'}) -%}{%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(types) -}}
{%- endmacro %}


{% macro rr_relation_columns(schema, name) -%}
    {#- The lower-case column names of schema.name, by a plain catalog query (run_query opens no
        transaction; adapter.get_columns_in_relation may, and the hooks run their own). -#}
    {{- return(adapter.dispatch('rr_relation_columns')(schema, name)) -}}
{%- endmacro %}

{% macro default__rr_relation_columns(schema, name) -%}
    {%- set found = run_query(
        "select column_name from information_schema.columns where table_schema = '" ~ schema
        ~ "' and table_name = '" ~ name ~ "'") -%}
    {{- return(found.rows | map(attribute=0) | map('lower') | list) -}}
{%- endmacro %}

{% macro spark__rr_relation_columns(schema, name) -%}
    {#- DESCRIBE lists the columns, then '# Partition Information' and the partition columns again -#}
    {%- set names = [] -%}
    {%- for row in run_query('describe table ' ~ schema ~ '.' ~ name).rows -%}
        {%- if not row[0] or row[0].startswith('#') -%}{%- break -%}{%- endif -%}
        {%- do names.append(row[0] | lower) -%}
    {%- endfor -%}
    {{- return(names) -}}
{%- endmacro %}
