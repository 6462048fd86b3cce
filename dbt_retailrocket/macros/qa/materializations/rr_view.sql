{#-
    Materialization of the views that hold no data (the published kpi views, the qa views and the
    lock): dbt's own view materialization, run only when the view would change. Re-creating a
    view, with its documented columns' comments, costs a daily run a tenth of a second or more per
    view for nothing; a view whose definition is unchanged is left as it is.

    "Unchanged" is checked against the warehouse, not remembered: the view's comment ends with
    its stamp (rr_view_stamp): the md5 of what this build would create (the compiled SQL and the
    documentation it persists) and the md5 of the view's text as the warehouse then kept it.
    A view replaced or altered by anything but this materialization, a changed model, a changed
    description or a full refresh: the view is created again. Where the warehouse keeps no
    comments and texts that can be read back cheaply (Spark), every build creates it.
-#}
{% materialization rr_view, default -%}
    {%- set build_md5 = local_md5(tojson({'sql': sql, 'description': model.description,
        'columns': model.columns.values() | map(attribute='description') | list,
        'column_names': model.columns.keys() | list, 'persist_docs': config.get('persist_docs'),
        'grants': config.get('grants')}, sort_keys=true)) -%}
    {%- if not should_full_refresh() -%}
        {%- set kept = rr_view_state(this) -%}
        {%- if kept is not none and (kept.comment or '').endswith(rr_view_stamp(build_md5, kept.text)) -%}
            {%- call noop_statement('main', 'OK: unchanged', 'OK') -%}
                -- {{ this }}: its definition is unchanged (rr_view)
            {%- endcall -%}
            {{ return({'relations': [this.incorporate(type='view')]}) }}
        {%- endif -%}
    {%- endif -%}
    {%- set result = adapter.dispatch('rr_create_view')() -%}
    {%- set made = rr_view_state(this) -%}
    {%- if made is not none -%}
        {%- set description = model.description if (config.get('persist_docs') or {}).get('relation') else '' -%}
        {%- call statement('rr_view_stamp', auto_begin=true) -%}
            {{ rr_comment_on_view_sql(this, (description ~ '\n\n' if description else '') ~ rr_view_stamp(build_md5, made.text)) }}
        {%- endcall -%}
        {%- do adapter.commit() -%}
    {%- endif -%}
    {{ return(result) }}
{%- endmaterialization %}


{% macro rr_view_stamp(build_md5, text) -%}
    {{- return('[rr_view build ' ~ build_md5 ~ ' text ' ~ local_md5(text or '') ~ ']') -}}
{%- endmacro %}


{% macro default__rr_create_view() -%}
    {{- return(materialization_view_default()) -}}
{%- endmacro %}

{% macro spark__rr_create_view() -%}
    {{- return(create_or_replace_view()) -}}
{%- endmacro %}


{% macro rr_view_state(relation) -%}
    {#- {comment, text} of the view `relation` as the warehouse keeps it; none where it is missing
        (or not a view), and on Spark. -#}
    {%- set query = adapter.dispatch('rr_view_state_sql')(relation) -%}
    {%- if query is none -%}{{ return(none) }}{%- endif -%}
    {%- set found = run_query(query) -%}
    {{- return({'comment': found.rows[0][0], 'text': found.rows[0][1]} if found.rows | length > 0 else none) -}}
{%- endmacro %}

{% macro default__rr_view_state_sql(relation) -%}
    {{- return(none) -}}
{%- endmacro %}

{% macro duckdb__rr_view_state_sql(relation) -%}
    {{- return("select comment, sql from duckdb_views() where database_name = '" ~ relation.database
        ~ "' and schema_name = '" ~ relation.schema ~ "' and view_name = '" ~ relation.identifier ~ "'") -}}
{%- endmacro %}

{% macro postgres__rr_view_state_sql(relation) -%}
    {{- return("select obj_description(c.oid, 'pg_class'), pg_get_viewdef(c.oid) from pg_class as c"
        ~ " inner join pg_namespace as n on n.oid = c.relnamespace where c.relkind = 'v'"
        ~ " and n.nspname = '" ~ relation.schema ~ "' and c.relname = '" ~ relation.identifier ~ "'") -}}
{%- endmacro %}


{% macro rr_comment_on_view_sql(relation, text) -%}
    {{- return('comment on view ' ~ relation ~ ' is ' ~ rr_sql_text(text)) -}}
{%- endmacro %}
