{#-
    The run history in schema qa: every dbt invocation, every node result, every model build.
    Append-only tables created by the on-run-start hook (never dropped by rebuilds):

      qa.rr_invocations    a 'start' row (on-run-start) and an 'end' row (on-run-end) per dbt
                           invocation: pipeline run, command, window, the raw load id seen
      qa.rr_catalog        what a complete check is, per version of the project (from the
                           manifest: every gate-tagged test; every incremental model)
      qa.rr_model_builds   one row per model build, written by the model's own post-hook INSIDE
                           the model's transaction: a build cannot commit without its row, so a
                           killed run can never leave the history claiming less than happened
      qa.rr_node_results   every node result (models, tests, seeds, snapshots, unit tests) of an
                           invocation, with timings and up to 5 failing rows (sample_rows, JSON)
      qa.rr_node_failing_dates  for a failed or warned test whose failing rows name their date
                           (meta rr_failing_rows_date): its failing rows per date, so that the
                           verdict counts them against those dates only
      qa.rr_date_verdicts  the certification verdict of each date an invocation checked
      qa.rr_date_verdict_gates  ... and its tests expected / ran / passed per gate
      qa.rr_date_verdict_tests  ... and the result of each gate test it counted (the
                           original-format summary's [quality_checks] lines read it)

    See rr_certification.sql for how a date is certified from this history.
-#}

{% macro rr_quality_gates() -%}
    {{- return(var('quality_gates')) -}}
{%- endmacro %}


{% macro rr_sql_text(value) -%}
    {%- if value is none -%}null{%- else -%}'{{ adapter.dispatch('rr_escape_text')(value | string) }}'{%- endif -%}
{%- endmacro %}

{% macro default__rr_escape_text(text) -%}
    {{- return(text.replace("'", "''")) -}}
{%- endmacro %}

{% macro spark__rr_escape_text(text) -%}
    {#- Spark reads backslash escapes in literals, and 'a''b' as two adjacent literals ('ab') -#}
    {{- return(text.replace("\\", "\\\\").replace("'", "\\'")) -}}
{%- endmacro %}


{% macro rr_sql_date(value) -%}
    {%- if value is none -%}cast(null as date){%- else -%}{{ rr_date_literal(value) }}{%- endif -%}
{%- endmacro %}


{% macro rr_sql_timestamp(value) -%}
    {%- if value is none -%}cast(null as timestamp){%- else -%}cast('{{ value.strftime('%Y-%m-%d %H:%M:%S.%f') }}' as timestamp){%- endif -%}
{%- endmacro %}


{% macro rr_utc_now() -%}
    {#- The Python clock of this dbt process, UTC: the one clock that orders builds and tests
        (dbt's own node timings use it too). -#}
    {{- return(modules.datetime.datetime.utcnow()) -}}
{%- endmacro %}


{% macro rr_pipeline_run_id() -%}
    {{- return(var('pipeline_run_id', none) or invocation_id) -}}
{%- endmacro %}


{% macro rr_test_gate(node) -%}
    {#- The quality gate of a test: its tag among var('quality_gates') (none: not a gate test). -#}
    {%- for gate in rr_quality_gates() if gate in node.tags -%}
        {%- if loop.first -%}{{ return(gate) }}{%- endif -%}
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


{% macro rr_catalog() -%}
    {#- What a complete check of a date is, read from the manifest (the whole project, whatever
        the invocation selected):
          gate_test        every data test tagged with a quality gate
          test_parent      the models each gate test reads (its result is stale once one of
                           them is rebuilt)
          certified_model  every incremental model: the date-partitioned tables whose rows for
                           a date feed its reports
        Returns {'id': md5 of the entries, 'entries': [[kind, unique_id, name, gate, model], ...]}. -#}
    {%- set entries = [] -%}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id') -%}
        {%- if node.resource_type == 'test' -%}
            {%- set gate = rr_test_gate(node) -%}
            {%- if gate -%}
                {%- do entries.append(['gate_test', node.unique_id, node.name, gate, rr_test_model(node)]) -%}
                {%- for parent in node.depends_on.nodes | sort if parent.startswith('model.') -%}
                    {%- do entries.append(['test_parent', node.unique_id, node.name, gate, parent]) -%}
                {%- endfor -%}
            {%- endif -%}
        {%- elif node.resource_type == 'model' and node.config.materialized == 'incremental' -%}
            {%- do entries.append(['certified_model', node.unique_id, node.name, none, node.name]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set fingerprint = [] -%}
    {%- for e in entries -%}{%- do fingerprint.append(e | join('|')) -%}{%- endfor -%}
    {{- return({'id': local_md5(fingerprint | join('\n')), 'entries': entries}) -}}
{%- endmacro %}


{% macro rr_history_table() -%}
    {#- The end of a history table's DDL, after its last column: the closing parenthesis, and on
        Spark the format (Parquet whatever the server's default: Spark 3 makes Hive text tables,
        which a message with a line break would split) and the partition each append writes
        (rr_append). -#}
    {{- adapter.dispatch('rr_history_table')() -}}
{%- endmacro %}

{% macro default__rr_history_table() -%}
    )
{%- endmacro %}

{% macro spark__rr_history_table() -%}
    ,
        rr_write_id varchar(200) not null
    ) using parquet
    options (partitionOverwriteMode 'dynamic')
    partitioned by (rr_write_id)
{%- endmacro %}


{% macro rr_append(table, columns, write_key) -%}
    {#- The one way rows are appended to the run history: `{% call rr_append('qa.t', [columns],
        key) %} select ... {% endcall %}`, the block giving the rows in the order of `columns`.
        `key` names this append within the invocation (unique per table and invocation).

        Spark: concurrent INSERT INTOs of one Parquet table share its _temporary folder, and the
        first to commit deletes the others' files (measured: 8 parallel appends of 3 rows kept
        18 to 21 of 24 rows, some with an error, some silently). Each append is therefore a
        dynamic partition overwrite of a partition no other append writes
        (rr_write_id = invocation id + key), staged in a folder of its own job: parallel Airflow
        tasks and dbt threads append safely. -#}
    {{- adapter.dispatch('rr_append')(table, columns, write_key, caller()) -}}
{%- endmacro %}

{% macro default__rr_append(table, columns, write_key, rows) -%}
    insert into {{ table }} ({{ columns | join(', ') }})
    {{ rows }}
{%- endmacro %}

{% macro spark__rr_append(table, columns, write_key, rows) -%}
    insert overwrite table {{ table }} partition (rr_write_id) ({{ columns | join(', ') }}, rr_write_id)
    select rr_rows.*, {{ rr_sql_text(invocation_id ~ '.' ~ write_key) }}
    from (
    {{ rows }}
    ) as rr_rows
{%- endmacro %}


{% macro rr_view(schema, name) -%}
    {#- The one way the history's views are (re)defined: `{% call rr_view('qa', 'v') %} select ...
        {% endcall %}`, a statement of an on-run-start hook (rr_statements).

        Spark: two sessions running CREATE OR REPLACE VIEW of one view together fail ("already
        exists", "cannot be found"), and so does a query reading the view meanwhile: parallel
        Airflow tasks start together. The view is created only when missing (CREATE VIEW IF NOT
        EXISTS) and changed in place (ALTER VIEW AS) only when its text changed, the text's md5
        kept as a property of the view; both are safe when sessions race (measured). -#}
    {{- adapter.dispatch('rr_view')(schema, name, caller()) -}}
{%- endmacro %}

{% macro default__rr_view(schema, name, sql) -%}
    create or replace view {{ schema }}.{{ name }} as
    {{ sql }}
{%- endmacro %}

{% macro spark__rr_view(schema, name, sql) -%}
    {%- set definition = local_md5(sql) -%}
    {%- set relation = schema ~ '.' ~ name -%}
    {%- if rr_relation_type(schema, name) is none -%}
    create view if not exists {{ relation }} tblproperties ('rr_definition' = '{{ definition }}') as
    {{ sql }}
    {%- else -%}
        {%- set found = run_query("show tblproperties " ~ relation ~ " ('rr_definition')") -%}
        {%- if found.rows | length == 0 or found.rows[0][1] != definition %}
    alter view {{ relation }} as
    {{ sql }}{{ rr_end() }}
    alter view {{ relation }} set tblproperties ('rr_definition' = '{{ definition }}')
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{% macro rr_end() -%}
    {#- The end of one statement of a hook (rr_statements). -#}
    ;
    -- rr:end-of-statement
{% endmacro %}


{% macro rr_statements(sql) -%}
    {#- A hook's statements, each ended by rr_end(): returned as one text where the adapter runs
        them together (DuckDB, PostgreSQL: in the hook's one transaction); run one by one here on
        Spark, which takes one statement per call (the hook then has nothing left to run). -#}
    {{- return(adapter.dispatch('rr_statements')(sql)) -}}
{%- endmacro %}

{% macro default__rr_statements(sql) -%}{{- return(sql) -}}{%- endmacro %}

{% macro spark__rr_statements(sql) -%}
    {%- for statement in sql.split('-- rr:end-of-statement') -%}
        {%- set text = statement.strip() -%}
        {%- if text.endswith(';') -%}{%- set text = text[:-1].strip() -%}{%- endif -%}
        {%- if text -%}{%- do run_query(text) -%}{%- endif -%}
    {%- endfor -%}
    {{- return('') -}}
{%- endmacro %}


{% macro rr_relation_type(schema, name) -%}
    {#- 'BASE TABLE', 'VIEW' or none. A plain catalog query (run_query does not open a
        transaction, unlike a relation-cache miss, which would swallow a hook's statements). -#}
    {{- return(adapter.dispatch('rr_relation_type')(schema, name)) -}}
{%- endmacro %}

{% macro spark__rr_relation_type(schema, name) -%}
    {#- Spark has no information_schema: SHOW TABLES lists tables and views, SHOW VIEWS views. -#}
    {%- if run_query("show databases like '" ~ schema ~ "'").rows | length == 0 -%}{{ return(none) }}{%- endif -%}
    {%- if run_query("show tables in " ~ schema ~ " like '" ~ name ~ "'").rows | length == 0 -%}{{ return(none) }}{%- endif -%}
    {{- return('VIEW' if run_query("show views in " ~ schema ~ " like '" ~ name ~ "'").rows | length > 0 else 'BASE TABLE') -}}
{%- endmacro %}

{% macro default__rr_relation_type(schema, name) -%}
    {%- set found = run_query(
        "select table_type from information_schema.tables where table_schema = '" ~ schema
        ~ "' and table_name = '" ~ name ~ "'") -%}
    {{- return(found.rows[0][0] if found.rows | length > 0 else none) -}}
{%- endmacro %}


{% macro rr_raw_bookkeeping_exists() -%}
    {{- return(rr_relation_type('raw', 'raw_rr_loads') is not none
        and rr_relation_type('raw', 'raw_rr_date_fingerprints') is not none) -}}
{%- endmacro %}


{% macro rr_raw_load_unfinished() -%}
    {#- raw.raw_rr_load_unfinished exists only while a raw load replaces tables and has not recorded
        itself (seeds_loader/fingerprints.py, UNFINISHED_TABLE): on Spark, which has no transactions,
        a load killed in between leaves the raw tables matching no recorded load. -#}
    {{- return(rr_relation_type('raw', 'raw_rr_load_unfinished') is not none) -}}
{%- endmacro %}


{% macro rr_current_raw_load_id_sql() -%}
    {#- null while a raw load is unfinished: an invocation that ends then certifies nothing -#}
    {%- if rr_raw_bookkeeping_exists() and not rr_raw_load_unfinished() -%}
        (select max(load_id) from raw.raw_rr_loads)
    {%- else -%}
        cast(null as bigint)
    {%- endif -%}
{%- endmacro %}


{% macro rr_create_history_tables() -%}
    create schema if not exists qa{{ rr_end() }}
    create table if not exists qa.rr_invocations (
        invocation_id varchar(64) not null,
        phase varchar(8) not null,
        recorded_at timestamp not null,
        pipeline_run_id varchar(250) not null,
        command varchar(32),
        target_date date,
        lookback_days integer,
        window_start date,
        window_end date,
        window_note varchar(1000),
        raw_load_id bigint,
        catalog_id varchar(32),
        dbt_version varchar(32)
    {{ rr_history_table() }}{{ rr_end() }}
    create table if not exists qa.rr_catalog (
        catalog_id varchar(32) not null,
        kind varchar(16) not null,
        unique_id varchar(512) not null,
        name varchar(512) not null,
        gate varchar(64),
        model varchar(512)
    {{ rr_history_table() }}{{ rr_end() }}
    create table if not exists qa.rr_model_builds (
        invocation_id varchar(64) not null,
        pipeline_run_id varchar(250) not null,
        unique_id varchar(512) not null,
        model varchar(512) not null,
        materialized varchar(32),
        is_full_build boolean not null,
        window_start date,
        window_end date,
        built_at timestamp not null,
        on_certified_history boolean not null,
        first_uncertified_date date
    {{ rr_history_table() }}{{ rr_end() }}
    create table if not exists qa.rr_node_results (
        invocation_id varchar(64) not null,
        pipeline_run_id varchar(250) not null,
        unique_id varchar(512) not null,
        name varchar(512) not null,
        resource_type varchar(32) not null,
        gate varchar(64),
        model varchar(512),
        status varchar(16) not null,
        failures bigint,
        message varchar(2000),
        started_at timestamp,
        completed_at timestamp,
        execution_seconds {{ rr_type_double() }},
        target_date date,
        window_start date,
        window_end date,
        sample_rows {{ dbt.type_string() }}
    {{ rr_history_table() }}{{ rr_end() }}
    create table if not exists qa.rr_node_failing_dates (
        invocation_id varchar(64) not null,
        unique_id varchar(512) not null,
        kpi_date date not null,
        failures bigint not null
    {{ rr_history_table() }}{{ rr_end() }}
    create table if not exists qa.rr_date_verdicts (
        invocation_id varchar(64) not null,
        pipeline_run_id varchar(250) not null,
        evaluated_at timestamp not null,
        kpi_date date not null,
        is_ok boolean not null,
        reason varchar(2000),
        raw_load_id bigint,
        last_built_at timestamp,
        tests_expected integer not null,
        tests_ran integer not null,
        tests_passed integer not null
    {{ rr_history_table() }}{{ rr_end() }}
    create table if not exists qa.rr_date_verdict_gates (
        invocation_id varchar(64) not null,
        kpi_date date not null,
        gate varchar(64) not null,
        gate_order integer not null,
        tests_expected integer not null,
        tests_ran integer not null,
        tests_passed integer not null,
        tests_warned integer not null,
        tests_failed integer not null,
        first_failing_test varchar(512)
    {{ rr_history_table() }}{{ rr_end() }}
    create table if not exists qa.rr_date_verdict_tests (
        invocation_id varchar(64) not null,
        kpi_date date not null,
        gate varchar(64) not null,
        gate_order integer not null,
        unique_id varchar(512) not null,
        test_name varchar(512) not null,
        status varchar(32),
        failures bigint
    {{ rr_history_table() }}
{%- endmacro %}


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


{% macro rr_history_tables() -%}
    {{- return(['rr_invocations', 'rr_catalog', 'rr_model_builds', 'rr_node_results', 'rr_node_failing_dates',
        'rr_date_verdicts', 'rr_date_verdict_gates', 'rr_date_verdict_tests']) -}}
{%- endmacro %}


{% macro rr_history_is_partitioned(name) -%}
    {#- Spark: does qa.<name> have the partition each append writes (rr_history_table)? -#}
    {%- set described = run_query('describe table qa.' ~ name) -%}
    {{- return(described.rows | selectattr(0, 'equalto', 'rr_write_id') | list | length > 0) -}}
{%- endmacro %}


{% macro default__rr_check_history_format() -%}{%- endmacro %}

{% macro spark__rr_check_history_format() -%}
    {#- A run history written before appends became partitions (one plain Parquet table each)
        would take no partitioned append: refused, naming the one-off migration. -#}
    {%- if rr_relation_type('qa', 'rr_invocations') == 'BASE TABLE' and not rr_history_is_partitioned('rr_invocations') -%}
        {%- do exceptions.raise_compiler_error(
            'the run history in schema qa was written by an earlier version of this project (its '
            ~ 'tables are not partitioned by rr_write_id, which parallel writers need on Spark): '
            ~ 'run `make spark-migrate-history` once (dbt run-operation rr_partition_spark_history), '
            ~ 'with no dbt run and no DAG run going on; it keeps every row') -%}
    {%- endif -%}
{%- endmacro %}


{% macro rr_partition_spark_history() -%}
    {#- One-off operation: the run history of an earlier version (plain Parquet tables) copied into
        tables partitioned by rr_write_id; the old rows keep rr_write_id 'before-partitioning'.
        Each old table is renamed first, then copied, then dropped: run again after a failure,
        it finishes the copy (the partition is overwritten, never doubled). -#}
    {%- if target.type != 'spark' -%}
        {{ log('the run history is partitioned only on Spark: nothing to do on ' ~ target.type, info=True) }}
        {{ return('') }}
    {%- endif -%}
    {%- for name in rr_history_tables() -%}
        {%- if rr_relation_type('qa', name) == 'BASE TABLE' and not rr_history_is_partitioned(name) -%}
            {%- if rr_relation_type('qa', name ~ '__unpartitioned') is not none -%}
                {%- do exceptions.raise_compiler_error('qa.' ~ name ~ ' and qa.' ~ name ~ '__unpartitioned both exist and neither is partitioned: move one aside by hand') -%}
            {%- endif -%}
            {%- do run_query('alter table qa.' ~ name ~ ' rename to qa.' ~ name ~ '__unpartitioned') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do rr_statements(rr_create_history_tables()) -%}
    {%- for name in rr_history_tables() if rr_relation_type('qa', name ~ '__unpartitioned') is not none -%}
        {%- do run_query('insert overwrite table qa.' ~ name ~ ' partition (rr_write_id) select *, '
            ~ "'before-partitioning' from qa." ~ name ~ '__unpartitioned') -%}
        {%- set copied = run_query('select count(*) from qa.' ~ name ~ " where rr_write_id = 'before-partitioning'").rows[0][0] -%}
        {%- do run_query('drop table qa.' ~ name ~ '__unpartitioned') -%}
        {{ log('qa.' ~ name ~ ': ' ~ copied ~ ' rows of the earlier history kept, now partitioned by rr_write_id', info=True) }}
    {%- endfor -%}
{%- endmacro %}


{% macro rr_on_run_start() -%}
    {{- return(rr_statements(rr_on_run_start_sql())) -}}
{%- endmacro %}


{% macro rr_on_run_start_sql() -%}
    {#- DDL of the history (serialised on PostgreSQL: parallel Airflow tasks start together), the
        catalog of this project version, the certification views, and this invocation's start
        row with the raw load id it sees. -#}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- if rr_raw_load_unfinished() -%}
        {%- do exceptions.raise_compiler_error(
            'the raw data is being replaced, or a raw load stopped before it was recorded '
            ~ '(raw.raw_rr_load_unfinished exists): wait for the load, or run it again '
            ~ '(python -m seeds_loader load); nothing is built on raw data no load describes') -%}
    {%- endif -%}
    {%- do rr_migrate_legacy_history() -%}
    {%- do adapter.dispatch('rr_check_history_format')() -%}
    {%- set catalog = rr_catalog() -%}
    {%- set has_raw = rr_raw_bookkeeping_exists() -%}
    {%- if not has_raw -%}
        {{ log('WARNING: raw.raw_rr_loads is missing: the raw data was loaded by an earlier version or not at all; load it with `python -m seeds_loader load` (nothing can be certified before)', info=True) }}
    {%- endif -%}
    {{ adapter.dispatch('rr_serialize_ddl')() }}
    {{ rr_create_history_tables() }}{{ rr_end() }}
    {%- if has_raw %}
    {{ rr_create_certification_views() }}{{ rr_end() }}
    {%- endif %}
    {{ rr_create_quality_check_runs_view() }}{{ rr_end() }}
    {#- this project version's catalog, once: looked up first, since analysing the insert of a few
        hundred rows costs Spark about 20 s on every invocation (the guard below stays for
        PostgreSQL's concurrent tasks) -#}
    {%- if not rr_catalog_recorded(catalog.id) %}
    {% call rr_append('qa.rr_catalog', ['catalog_id', 'kind', 'unique_id', 'name', 'gate', 'model'], 'catalog') -%}
    select catalog_id, kind, unique_id, name, gate, model
    from (
        {%- for e in catalog.entries %}
        select {{ rr_sql_text(catalog.id) }} as catalog_id, {{ rr_sql_text(e[0]) }} as kind,
            {{ rr_sql_text(e[1]) }} as unique_id, {{ rr_sql_text(e[2]) }} as name,
            cast({{ rr_sql_text(e[3]) }} as varchar(64)) as gate, cast({{ rr_sql_text(e[4]) }} as varchar(512)) as model
        {%- if not loop.last %} union all{% endif -%}
        {%- endfor %}
    ) as entries
    where not exists (select 1 from qa.rr_catalog where catalog_id = {{ rr_sql_text(catalog.id) }})
    {%- endcall %}{{ rr_end() }}
    {%- endif %}
    {{ rr_invocation_row('start', catalog.id) }}
{%- endmacro %}


{% macro rr_catalog_recorded(catalog_id) -%}
    {%- if rr_relation_type('qa', 'rr_catalog') is none -%}{{ return(false) }}{%- endif -%}
    {%- set found = run_query("select count(*) from qa.rr_catalog where catalog_id = " ~ rr_sql_text(catalog_id)) -%}
    {{- return(found.rows[0][0] | int > 0) -}}
{%- endmacro %}


{% macro rr_invocation_row(phase, catalog_id) -%}
    {#- This invocation's 'start' or 'end' row: its window and the raw load id seen now. -#}
    {%- set target_date = rr_target_date() -%}
    {%- set w = rr_window(true) -%}
    {% call rr_append('qa.rr_invocations', [
        'invocation_id', 'phase', 'recorded_at', 'pipeline_run_id', 'command', 'target_date', 'lookback_days',
        'window_start', 'window_end', 'window_note', 'raw_load_id', 'catalog_id', 'dbt_version'], phase) -%}
    select
        {{ rr_sql_text(invocation_id) }}, {{ rr_sql_text(phase) }}, {{ rr_sql_timestamp(rr_utc_now()) }},
        {{ rr_sql_text(rr_pipeline_run_id()) }}, {{ rr_sql_text(flags.WHICH) }},
        {{ rr_sql_date(target_date) }}, {{ rr_lookback_days() if target_date is not none else 'cast(null as integer)' }},
        {{ rr_sql_date(w.start) }}, {{ rr_sql_date(w.end) }}, {{ rr_sql_text(var('window_note', none) or none) }},
        {{ rr_current_raw_load_id_sql() }}, {{ rr_sql_text(catalog_id) }}, {{ rr_sql_text(dbt_version) }}
    {%- endcall %}
{%- endmacro %}


{% macro default__rr_serialize_ddl() -%}{%- endmacro %}

{% macro postgres__rr_serialize_ddl() -%}
    {#- one transaction-scoped lock around the hook's statements: concurrent `create ... if not
        exists` of the same table fails on PostgreSQL -#}
    select pg_advisory_xact_lock(hashtextextended('retailrocket-kpi qa history ddl', 0)){{ rr_end() }}
{%- endmacro %}


{% macro rr_stamps_before_build() -%}
    {#- Where a model's build and its stamp cannot commit together (Spark: no transactions), the
        stamp is written before the build starts: a build that dies half-way is then newer than
        every test of its dates, which are refused until rebuilt and re-checked. -#}
    {{- return(adapter.dispatch('rr_stamps_before_build')()) -}}
{%- endmacro %}

{% macro default__rr_stamps_before_build() -%}{{- return(false) -}}{%- endmacro %}

{% macro spark__rr_stamps_before_build() -%}{{- return(true) -}}{%- endmacro %}


{% macro rr_stamp_model_build(hook='post') -%}
    {#- Post-hook of every model, run inside the model's transaction: the build and its row in
        qa.rr_model_builds commit together or not at all (pre-hook where there are no
        transactions: rr_stamps_before_build). Records which dates the build
        replaced (an incremental run: the run window; a full build or a table: every date) and
        whether every date before its window was certified when it was built (if not, its rows
        may rest on stale history and cannot be certified before a rebuild from that date). -#}
    {%- if not execute or (hook == 'pre') != rr_stamps_before_build() -%}{{ return('') }}{%- endif -%}
    {%- set incremental = is_incremental() -%}
    {%- set w = rr_window(true) if incremental else {'start': none, 'end': none} -%}
    {%- set full_build = not incremental -%}
    {%- set checks_history = w.start is not none and rr_raw_bookkeeping_exists() and config.get('materialized') == 'incremental' -%}
    {% call rr_append('qa.rr_model_builds', [
        'invocation_id', 'pipeline_run_id', 'unique_id', 'model', 'materialized', 'is_full_build',
        'window_start', 'window_end', 'built_at', 'on_certified_history', 'first_uncertified_date'],
        'build.' ~ model.unique_id) -%}
    select
        {{ rr_sql_text(invocation_id) }}, {{ rr_sql_text(rr_pipeline_run_id()) }},
        {{ rr_sql_text(model.unique_id) }}, {{ rr_sql_text(model.name) }},
        {{ rr_sql_text(config.get('materialized')) }}, {{ 'true' if full_build else 'false' }},
        {{ rr_sql_date(w.start) }}, {{ rr_sql_date(w.end) }}, {{ rr_sql_timestamp(rr_utc_now()) }},
        {%- if checks_history %}
        history.first_uncertified_date is null, history.first_uncertified_date
    from (
        select min(kpi_date) as first_uncertified_date
        from qa.rr_date_certification
        where not is_certified and kpi_date < {{ rr_date_literal(w.start) }}
    ) as history
        {%- else %}
        true, cast(null as date)
        {%- endif %}
    {%- endcall %}
{%- endmacro %}


{% macro rr_sample_rows(res, limit=5) -%}
    {#- Up to `limit` failing rows of a failed or warned test, as JSON text (values as text). -#}
    {%- if (res.status | string) not in ('fail', 'warn') or not res.node.compiled_code -%}{{ return(none) }}{%- endif -%}
    {%- set sample = run_query('select * from (' ~ res.node.compiled_code ~ ') as failing_rows limit ' ~ limit) -%}
    {%- set rows = [] -%}
    {%- for row in sample.rows -%}
        {%- set item = {} -%}
        {%- for name, value in zip(sample.column_names, row.values()) -%}
            {%- do item.update({name: none if value is none else (value | string)}) -%}
        {%- endfor -%}
        {%- do rows.append(item) -%}
    {%- endfor -%}
    {{- return(tojson(rows)) -}}
{%- endmacro %}


{% macro rr_failing_dates(res) -%}
    {#- A failed or warned test whose failing rows name their date (its config's meta
        rr_failing_rows_date: the column): [[date, failing rows], ...]; none for any other result. -#}
    {%- set column = (res.node.config.meta or {}).get('rr_failing_rows_date') -%}
    {%- if not column or (res.status | string) not in ('fail', 'warn') or not res.node.compiled_code -%}{{ return(none) }}{%- endif -%}
    {%- set found = run_query(
        'select cast(' ~ column ~ ' as date), count(*) from (' ~ res.node.compiled_code
        ~ ') as failing_rows group by cast(' ~ column ~ ' as date)') -%}
    {%- set dates = [] -%}
    {%- for row in found.rows -%}
        {%- if row[0] is none -%}
            {#- a failing row without a date cannot be placed: the result counts against every date -#}
            {{ return(none) }}
        {%- endif -%}
        {#- a date, or its text where the adapter's driver gives text (Spark over Thrift) -#}
        {%- set day = modules.datetime.date.fromisoformat((row[0] | string)[:10]) -%}
        {%- do dates.append([day, row[1] | int]) -%}
    {%- endfor -%}
    {{- return(dates) -}}
{%- endmacro %}


{% macro rr_timing(res, phase, bound) -%}
    {%- for t in res.timing if t.name == phase -%}
        {%- if loop.first -%}{{ return(t[bound]) }}{%- endif -%}
    {%- endfor -%}
    {{- return(none) -}}
{%- endmacro %}


{% macro rr_on_run_end(results) -%}
    {{- return(rr_statements(rr_on_run_end_sql(results))) -}}
{%- endmacro %}


{% macro rr_on_run_end_sql(results) -%}
    {#- Appends every node result of this invocation, its 'end' row (with the raw load id seen
        now), and the certification verdicts of the dates it checked. -#}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set target_date = rr_target_date() -%}
    {%- set w = rr_window(true) -%}
    {%- set rows = [] -%}
    {%- set failing_dates = [] -%}
    {%- set ns = namespace(checked=false) -%}
    {%- for res in results if res.node.resource_type in ('model', 'test', 'seed', 'snapshot', 'unit_test') -%}
        {%- if res.node.resource_type in ('model', 'test') -%}{%- set ns.checked = true -%}{%- endif -%}
        {%- set started = rr_timing(res, 'execute', 'started_at') or rr_timing(res, 'compile', 'started_at') -%}
        {%- set completed = rr_timing(res, 'execute', 'completed_at') -%}
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
            {{ rr_sql_timestamp(started) }}, {{ rr_sql_timestamp(completed) }},
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
    {%- set catalog = rr_catalog() -%}
    {%- if rows | length > 0 %}
    {% call rr_append('qa.rr_node_results', [
        'invocation_id', 'pipeline_run_id', 'unique_id', 'name', 'resource_type', 'gate', 'model', 'status',
        'failures', 'message', 'started_at', 'completed_at', 'execution_seconds', 'target_date',
        'window_start', 'window_end', 'sample_rows'], 'results') -%}
    {#- one VALUES list: Spark analyses a union of a hundred one-row selects in seconds -#}
    values
    {{ rows | join(',\n    ') }}
    {%- endcall %}{{ rr_end() }}
    {%- endif %}
    {%- if failing_dates | length > 0 %}
    {% call rr_append('qa.rr_node_failing_dates', ['invocation_id', 'unique_id', 'kpi_date', 'failures'], 'failing-dates') -%}
    values
    {{ failing_dates | join(',\n    ') }}
    {%- endcall %}{{ rr_end() }}
    {%- endif %}
    {{ rr_invocation_row('end', catalog.id) }}
    {%- if ns.checked and rr_raw_bookkeeping_exists() %}{{ rr_end() }}
    {{ rr_record_verdicts(catalog.id, w) }}
    {%- endif %}
{%- endmacro %}
