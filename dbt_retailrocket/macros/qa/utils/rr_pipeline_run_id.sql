{% macro rr_pipeline_run_id() -%}
    {#- The pipeline run that invoked dbt (var pipeline_run_id: Airflow's run id, one line), else
        this invocation's id. -#}
    {{- return(rr_free_text_var('pipeline_run_id') or invocation_id) -}}
{%- endmacro %}
