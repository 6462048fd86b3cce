{% macro rr_serialize_history_ddl() -%}
    {{- return(adapter.dispatch('rr_serialize_history_ddl')()) -}}
{%- endmacro %}

{% macro default__rr_serialize_history_ddl() -%}{{- return([]) -}}{%- endmacro %}

{% macro postgres__rr_serialize_history_ddl() -%}
    {#- one transaction-scoped lock around the start's statements: concurrent `create ... if not
        exists` of the same table fails on PostgreSQL -#}
    {{- return(["select pg_advisory_xact_lock(hashtextextended('retailrocket-kpi qa history ddl', 0))"]) -}}
{%- endmacro %}
