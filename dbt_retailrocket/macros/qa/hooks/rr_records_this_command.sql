{% macro rr_records_this_command() -%}
    {#- Whether this dbt command builds or tests nodes, and so goes into the run history (dbt also
        runs on-run-end for `docs generate`, which checks nothing). -#}
    {{- return(execute and flags.WHICH in ('build', 'run', 'test', 'seed', 'snapshot', 'retry')) -}}
{%- endmacro %}
