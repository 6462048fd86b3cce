{#-
    Materialization of the run history's tables (models/qa/history): append-only. A build creates
    the table from its contract if it is missing, and never drops, replaces or fills it (a full
    refresh changes nothing): the rows are appended by the run hooks and each build's
    post-hooks, and no rebuild may lose one. on-run-start has already created every missing
    table and, for a new version of the project, appended the columns the contracts gained
    (rr_on_run_start): here that is one look at the relation cache.
-#}
{% materialization rr_history, default -%}
    {%- set relation = this.incorporate(type='table') -%}
    {%- set missing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) is none -%}
    {%- if missing -%}
        {%- do rr_run_statements([adapter.dispatch('rr_create_schema_sql')(this.schema), rr_history_ddl(model)]) -%}
        {%- do adapter.cache_added(relation) -%}
    {%- endif -%}
    {%- call noop_statement('main', 'OK: append-only' ~ (', created' if missing else ''), 'OK') -%}
        -- {{ relation }}: append-only history table, rows written by the run hooks
    {%- endcall -%}
    {{ return({'relations': [relation]}) }}
{%- endmaterialization %}
