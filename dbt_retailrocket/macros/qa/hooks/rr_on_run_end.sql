{% macro rr_on_run_end(results) -%}
    {#- on-run-end, a table of contents (docs block rr_certification):
        1. every node result of this invocation, with up to five failing rows of a failing test
           and the failing rows per date of those that place them;
        2. its end row (the raw load seen now; the definitions are those of its start);
        3. the verdict of every date it checked (rr_record_verdicts), when it built or tested;
        all committed together; then
        4. the gates and the certification of the dates checked, printed; the invocation fails
           when the raw data changed under it (a retry can succeed: no gate said no). -#}
    {%- if not rr_records_this_command() -%}{{ return('') }}{%- endif -%}
    {%- set start = rr_invocation_start() -%}
    {%- set statements = rr_node_results_rows(results) -%}
    {%- do statements.append(rr_invocation_row('end', start.catalog_id, start.definitions)) -%}
    {%- if results | selectattr('node.resource_type', 'in', ['model', 'test']) | list and rr_raw_bookkeeping_exists() -%}
        {%- do statements.extend(rr_record_verdicts(start.catalog_id, rr_window(true))) -%}
    {%- endif -%}
    {%- do rr_run_statements(statements) -%}
    {%- do rr_print_gates(results) -%}
    {%- do rr_print_certification() -%}
    {%- do rr_require_unchanged_raw_data() -%}
    {{- return('') -}}
{%- endmacro %}
