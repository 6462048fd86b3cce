{% macro rr_verdict_gates_sql() -%}
    {#- Per date and gate: its tests expected, ran, passed, warned and failed, and the first failing
        one, from the per-test rows this invocation recorded (rr_verdict_tests_sql). -#}
    select
        invocation_id,
        kpi_date,
        gate,
        gate_order,
        count(*) as tests_expected,
        count(status) as tests_ran,
        sum(case when status in ('pass', 'warn') then 1 else 0 end) as tests_passed,
        sum(case when status = 'warn' then 1 else 0 end) as tests_warned,
        sum(case when status in ('fail', 'error') then 1 else 0 end) as tests_failed,
        min(case when status in ('fail', 'error') then
            test_name || ' (' || status
            || coalesce(', ' || {{ rr_text('failures') }} || ' failing rows', '') || ')'
        end) as first_failing_test
    from {{ rr_history_relation('rr_date_verdict_tests') }}
    where invocation_id = {{ rr_sql_text(invocation_id) }}
    group by invocation_id, kpi_date, gate, gate_order
{%- endmacro %}
