{% macro rr_node_results_rows(results) -%}
    {#- The statements appending this invocation's node results (models, tests, seeds, snapshots,
        unit tests) with up to five failing rows each, and the failing rows per date of the tests
        that place them (rr_failing_dates). -#}
    {%- set target_date = rr_target_date() -%}
    {%- set w = rr_window(true) -%}
    {%- set rows = [] -%}
    {%- set failing_dates = [] -%}
    {%- for res in results if res.node.resource_type in ('model', 'test', 'seed', 'snapshot', 'unit_test') -%}
        {%- set started = rr_timing(res, 'execute', 'started_at') or rr_timing(res, 'compile', 'started_at') -%}
        {%- set message = none if res.message is none else (res.message | string)[:1900] -%}
        {%- set row -%}
        (
            {{ rr_sql_text(invocation_id) }}, {{ rr_sql_text(rr_pipeline_run_id()) }},
            {{ rr_sql_text(res.node.unique_id) }}, {{ rr_sql_text(res.node.name) }},
            {{ rr_sql_text(res.node.resource_type) }},
            cast({{ rr_sql_text(rr_test_gate(res.node) if res.node.resource_type == 'test' else none) }} as varchar(64)),
            cast({{ rr_sql_text(rr_test_model(res.node) if res.node.resource_type in ('test', 'unit_test') else res.node.name) }} as varchar(512)),
            {{ rr_sql_text(res.status | string) }},
            cast({{ 'null' if res.failures is none else (res.failures | int) }} as bigint),
            cast({{ rr_sql_text(message) }} as varchar(2000)),
            {{ rr_sql_timestamp(started) }}, {{ rr_sql_timestamp(rr_timing(res, 'execute', 'completed_at')) }},
            cast({{ res.execution_time | float }} as {{ rr_type_double() }}),
            {{ rr_sql_date(target_date) }}, {{ rr_sql_date(w.start) }},
            {{ rr_sql_date(w.end) }},
            {{ rr_text(rr_sql_text(rr_sample_rows(res))) }}
        )
        {%- endset -%}
        {%- do rows.append(row) -%}
        {%- for dated in (rr_failing_dates(res) if res.node.resource_type == 'test' else none) or [] -%}
            {%- do failing_dates.append('(' ~ rr_sql_text(invocation_id) ~ ', ' ~ rr_sql_text(res.node.unique_id)
                ~ ', ' ~ rr_sql_date(dated[0]) ~ ', cast(' ~ dated[1] ~ ' as bigint))') -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- if rows -%}
        {#- one VALUES list: Spark analyses a union of a hundred one-row selects in seconds -#}
        {%- do statements.append(rr_append('rr_node_results', [
            'invocation_id', 'pipeline_run_id', 'unique_id', 'name', 'resource_type', 'gate', 'model', 'status',
            'failures', 'message', 'started_at', 'completed_at', 'execution_seconds', 'target_date',
            'window_start', 'window_end', 'sample_rows'], 'results', 'values\n    ' ~ (rows | join(',\n    ')))) -%}
    {%- endif -%}
    {%- if failing_dates -%}
        {%- do statements.append(rr_append('rr_node_failing_dates', ['invocation_id', 'unique_id', 'kpi_date', 'failures'],
            'failing-dates', 'values\n    ' ~ (failing_dates | join(',\n    ')))) -%}
    {%- endif -%}
    {{- return(statements) -}}
{%- endmacro %}
