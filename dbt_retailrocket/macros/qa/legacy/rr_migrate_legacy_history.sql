{% macro rr_migrate_legacy_history() -%}
    {#- Before the run history, qa.quality_check_runs was a table of test results; it is now a
        view over qa.rr_node_results with the original project's column names. An old table is
        kept under another name, never dropped. -#}
    {%- if rr_relation_type('qa', 'quality_check_runs') == 'BASE TABLE' -%}
        {%- if rr_relation_type('qa', 'quality_check_runs_before_history') is none -%}
            {% do log('qa.quality_check_runs is a table of an earlier version: renamed to qa.quality_check_runs_before_history', info=True) %}
            {% do run_query('alter table qa.quality_check_runs rename to quality_check_runs_before_history') %}
        {%- else -%}
            {% do run_query('drop table qa.quality_check_runs') %}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
