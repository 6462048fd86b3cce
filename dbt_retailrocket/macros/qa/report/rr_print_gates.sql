{% macro rr_print_gates(results) -%}
    {#- One line per locked gate for this invocation's tests, then each failing test with the
        failing rows on-run-end recorded for it (up to five). -#}
    {%- set tests = results | selectattr('node.resource_type', 'equalto', 'test') | list -%}
    {%- if not tests -%}{{ return('') }}{%- endif -%}
    {%- set samples = {} -%}
    {%- set recorded = run_query('select unique_id, sample_rows from ' ~ rr_history_relation('rr_node_results')
        ~ ' where invocation_id = ' ~ rr_sql_text(invocation_id) ~ " and status = 'fail' and sample_rows is not null") -%}
    {%- for row in recorded.rows -%}{%- do samples.update({row[0]: row[1]}) -%}{%- endfor -%}
    {{ log('Quality gates (checked: ' ~ rr_window_text(rr_window(true)) ~ ')', info=True) }}
    {%- for gate in rr_quality_gates() + [none] -%}
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
                {%- for row in fromjson(samples.get(res.node.unique_id) or '[]') -%}
                    {{ log('          ' ~ (row | string), info=True) }}
                {%- endfor -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}


{% macro rr_window_text(w) -%}
    {{- return('all dates' if w.end is none else ((w.start.isoformat() if w.start else 'first date') ~ ' .. ' ~ w.end.isoformat())) -}}
{%- endmacro %}
