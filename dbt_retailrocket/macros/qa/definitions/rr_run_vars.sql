{% macro rr_run_vars() -%}
    {#- The vars that say which run this is, never what its numbers mean: the run window
        (rr_run_window.sql), the pipeline run and the note on its window. Every other var is a
        definition (rr_definitions_current). -#}
    {{- return(['target_date', 'lookback_days', 'start_date', 'end_date', 'pipeline_run_id', 'window_note']) -}}
{%- endmacro %}
