{#-
    Gate history: qa.quality_check_runs gets one row per data test or unit test of every dbt
    invocation (on-run-end hook over `results`). The table is created by the on-run-start hook
    and is not a model, so no rebuild or --full-refresh ever drops it.
-#}

{% macro rr_create_quality_log() -%}
    create schema if not exists qa;
    create table if not exists qa.quality_check_runs (
        invocation_id varchar(64) not null,
        pipeline_run_id varchar(250) not null,
        run_started_at timestamp not null,
        target_date date,
        window_start_date date,
        window_end_date date,
        gate varchar(64),
        test_name varchar(512) not null,
        model varchar(512),
        status varchar(16) not null,
        failures bigint,
        execution_seconds double precision
    );
{%- endmacro %}


{% macro rr_sql_text(value) -%}
    {%- if value is none -%}null{%- else -%}'{{ (value | string).replace("'", "''") }}'{%- endif -%}
{%- endmacro %}


{% macro rr_test_gate(node) -%}
    {%- for tag in node.tags if tag.startswith('gate_') -%}
        {%- if loop.first -%}{{ return(tag) }}{%- endif -%}
    {%- endfor -%}
    {{- return(none) -}}
{%- endmacro %}


{% macro rr_test_model(node) -%}
    {#- The model a test protects: the attached node of a generic test, else the first model
        (or source) the test reads. -#}
    {%- set attached = node.attached_node if node.attached_node is defined else none -%}
    {%- if attached -%}{{ return(attached.split('.')[-1]) }}{%- endif -%}
    {%- for uid in node.depends_on.nodes if uid.startswith('model.') or uid.startswith('source.') -%}
        {%- if loop.first -%}{{ return(uid.split('.')[-1]) }}{%- endif -%}
    {%- endfor -%}
    {%- if node.resource_type == 'unit_test' and node.model is defined -%}{{ return(node.model) }}{%- endif -%}
    {{- return(none) -}}
{%- endmacro %}


{% macro rr_record_test_results(results) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set target_date = rr_target_date() -%}
    {%- set w = rr_window(true) -%}
    {%- set run_id = var('pipeline_run_id', none) or invocation_id -%}
    {%- set rows = [] -%}
    {%- for res in results if res.node.resource_type in ('test', 'unit_test') -%}
        {%- set row -%}
        (
            {{ rr_sql_text(invocation_id) }},
            {{ rr_sql_text(run_id) }},
            cast({{ rr_sql_text(run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f')) }} as timestamp),
            {{ 'null' if target_date is none else rr_date_literal(target_date) }},
            {{ 'null' if w.start is none else rr_date_literal(w.start) }},
            {{ 'null' if w.end is none else rr_date_literal(w.end) }},
            {{ rr_sql_text(rr_test_gate(res.node)) }},
            {{ rr_sql_text(res.node.name) }},
            {{ rr_sql_text(rr_test_model(res.node)) }},
            {{ rr_sql_text(res.status | string) }},
            {{ 'null' if res.failures is none else (res.failures | int) }},
            {{ res.execution_time | float }}
        )
        {%- endset -%}
        {%- do rows.append(row) -%}
    {%- endfor -%}
    {%- if rows | length == 0 -%}{{ return('') }}{%- endif -%}
    insert into qa.quality_check_runs (
        invocation_id, pipeline_run_id, run_started_at, target_date, window_start_date,
        window_end_date, gate, test_name, model, status, failures, execution_seconds
    )
    values
    {{ rows | join(',\n    ') }}
{%- endmacro %}


{% macro rr_report_gates(results, sample_rows=5) -%}
    {#- Prints one line per gate and, for every failing or erroring test, its gate, model,
        failure count and up to `sample_rows` failing rows (re-running the compiled test), so a
        stopped run says which gate stopped it and why. Returns no SQL. -#}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set tests = [] -%}
    {%- for res in results if res.node.resource_type == 'test' -%}
        {%- do tests.append(res) -%}
    {%- endfor -%}
    {%- if tests | length == 0 -%}{{ return('') }}{%- endif -%}
    {%- set w = rr_window(true) -%}
    {%- set window_text = 'all dates' if w.end is none else (w.start.isoformat() ~ ' .. ' ~ w.end.isoformat()) -%}
    {{ log('Quality gates (checked: ' ~ window_text ~ ')', info=True) }}
    {%- for gate in ['gate_domain', 'gate_integrity', 'gate_nulls', 'gate_rowcount', 'gate_kpi_range', none] -%}
        {%- set ns = namespace(total=0, bad=[], warned=0, skipped=0) -%}
        {%- for res in tests if rr_test_gate(res.node) == gate -%}
            {%- set ns.total = ns.total + 1 -%}
            {%- set status = res.status | string -%}
            {%- if status in ('fail', 'error') -%}{%- do ns.bad.append(res) -%}{%- endif -%}
            {%- if status == 'skipped' -%}{%- set ns.skipped = ns.skipped + 1 -%}{%- endif -%}
            {%- if status == 'warn' -%}{%- set ns.warned = ns.warned + 1 -%}{%- endif -%}
        {%- endfor -%}
        {%- if ns.total > 0 -%}
            {%- set verdict = 'FAIL' if ns.bad | length > 0 else ('NOT RUN' if ns.skipped > 0 else ('WARN' if ns.warned > 0 else 'PASS')) -%}
            {{ log('  ' ~ '%-16s' | format(gate or '(no gate)') ~ '%-8s' | format(verdict) ~ ns.total ~ ' tests: ' ~ (ns.bad | length) ~ ' failed, ' ~ ns.warned ~ ' warned, ' ~ ns.skipped ~ ' skipped (upstream failed)', info=True) }}
            {%- for res in ns.bad -%}
                {{ log('      ' ~ (res.status | string | upper) ~ ' ' ~ res.node.name ~ ' on ' ~ (rr_test_model(res.node) or '?') ~ ': ' ~ (res.failures if res.failures is not none else (res.message or '')), info=True) }}
                {%- if (res.status | string) == 'fail' and res.node.compiled_code -%}
                    {%- set sample = run_query('select * from (' ~ res.node.compiled_code ~ ') as failing_rows limit ' ~ sample_rows) -%}
                    {%- for row in sample.rows -%}
                        {{ log('          ' ~ (dict(zip(sample.column_names, row.values())) | string), info=True) }}
                    {%- endfor -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
