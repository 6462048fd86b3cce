{% macro rr_utc_now() -%}
    {#- The Python clock of this dbt process, UTC: the one clock that orders builds and tests
        (dbt's own node timings use it too). -#}
    {{- return(modules.datetime.datetime.utcnow()) -}}
{%- endmacro %}
