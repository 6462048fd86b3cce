{% macro rr_invocation_row(phase, catalog_id, definitions) -%}
    {#- This invocation's 'start' or 'end' row: its window, the raw load id seen now, and the
        definitions it runs under (rr_definitions_state). -#}
    {%- set target_date = rr_target_date() -%}
    {%- set w = rr_window(true) -%}
    {%- set rows -%}
    select
        {{ rr_sql_text(invocation_id) }}, {{ rr_sql_text(phase) }}, {{ rr_sql_timestamp(rr_utc_now()) }},
        {{ rr_sql_text(rr_pipeline_run_id()) }}, {{ rr_sql_text(flags.WHICH) }},
        {{ rr_sql_date(target_date) }}, {{ rr_lookback_days() if target_date is not none else 'cast(null as integer)' }},
        {{ rr_sql_date(w.start) }}, {{ rr_sql_date(w.end) }}, {{ rr_sql_text(rr_free_text_var('window_note')) }},
        {{ rr_current_raw_load_id_sql() }}, {{ rr_sql_text(catalog_id) }}, {{ rr_sql_text(dbt_version) }},
        {{ rr_sql_text(definitions.sha256) }}, cast({{ definitions.version if definitions.version is not none else 'null' }} as integer),
        {{ rr_sql_text(definitions.problem) }}
    {%- endset -%}
    {{- return(rr_append('rr_invocations', [
        'invocation_id', 'phase', 'recorded_at', 'pipeline_run_id', 'command', 'target_date', 'lookback_days',
        'window_start', 'window_end', 'window_note', 'raw_load_id', 'catalog_id', 'dbt_version',
        'definitions_sha256', 'definitions_version', 'definitions_problem'], phase, rows)) -}}
{%- endmacro %}
