{% macro rr_on_run_start() -%}
    {#- on-run-start, a table of contents (docs block rr_certification):
        1. refuse to start on raw data that no recorded load describes;
        2. carry over the run history of an earlier version (legacy tables, Spark's format);
        3. the definitions this run is under, compared with the lock (rr_definitions_state);
        4. create the history tables that are missing (serialised on PostgreSQL: parallel Airflow
           tasks start together);
        5. a new version of the project: append the columns its history gained, record its
           catalog (what a complete check is);
        6. a new state of the definitions: record its texts (what the reports show); files
           not seen before that make the lock's definitions: record their key (the next
           invocation on the same files does not compute the definitions again);
        7. this invocation's start row.
        Steps 4-7 commit together. -#}
    {%- if not rr_records_this_command() -%}{{ return('') }}{%- endif -%}
    {%- do rr_require_recorded_raw_load() -%}
    {%- do rr_migrate_legacy_history() -%}
    {%- do adapter.dispatch('rr_check_history_format')() -%}
    {%- set definitions = rr_definitions_state() -%}
    {%- set catalog = rr_catalog() -%}
    {%- set statements = rr_serialize_history_ddl() -%}
    {%- do statements.extend(rr_create_history_tables()) -%}
    {%- if not rr_catalog_recorded(catalog.id) -%}
        {%- for node in rr_history_nodes() -%}{%- do statements.extend(rr_add_history_columns(node)) -%}{%- endfor -%}
        {%- do statements.append(rr_catalog_rows(catalog)) -%}
    {%- endif -%}
    {%- if not definitions.key_known and not rr_definition_texts_recorded(definitions.sha256) -%}
        {%- do statements.append(rr_definition_texts_rows(definitions)) -%}
    {%- endif -%}
    {%- if not definitions.key_known and definitions.key and definitions.version is not none -%}
        {%- do statements.append(rr_definitions_key_row(definitions)) -%}
    {%- endif -%}
    {%- do statements.append(rr_invocation_row('start', catalog.id, definitions)) -%}
    {%- do rr_run_statements(statements) -%}
    {%- do rr_cache_history_tables() -%}
    {%- if definitions.problem -%}
        {{ log('WARNING: ' ~ definitions.problem ~ '; this run certifies nothing', info=True) }}
    {%- endif -%}
    {{- return('') -}}
{%- endmacro %}
