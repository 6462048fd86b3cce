{% macro rr_relation_type(schema, name) -%}
    {#- 'BASE TABLE', 'VIEW' or none: a plain catalog query (never the relation cache, which does
        not know what this invocation's hooks created). -#}
    {{- return(adapter.dispatch('rr_relation_type')(schema, name)) -}}
{%- endmacro %}

{% macro default__rr_relation_type(schema, name) -%}
    {%- set found = run_query(
        "select table_type from information_schema.tables where table_schema = '" ~ schema
        ~ "' and table_name = '" ~ name ~ "'") -%}
    {{- return(found.rows[0][0] if found.rows | length > 0 else none) -}}
{%- endmacro %}

{% macro spark__rr_relation_type(schema, name) -%}
    {#- Spark has no information_schema: SHOW TABLES lists tables and views, SHOW VIEWS views. -#}
    {%- if run_query("show databases like '" ~ schema ~ "'").rows | length == 0 -%}{{ return(none) }}{%- endif -%}
    {%- if run_query("show tables in " ~ schema ~ " like '" ~ name ~ "'").rows | length == 0 -%}{{ return(none) }}{%- endif -%}
    {{- return('VIEW' if run_query("show views in " ~ schema ~ " like '" ~ name ~ "'").rows | length > 0 else 'BASE TABLE') -}}
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
