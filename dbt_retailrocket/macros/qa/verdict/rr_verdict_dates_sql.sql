{% macro rr_verdict_dates_sql(catalog_id, w) -%}
    {#- One row per checked date: its verdict and the one-line reason when it is not OK, from the
        gates this invocation recorded (rr_verdict_gates_sql) and the builds. -#}
with

{{ rr_verdict_inputs_ctes(catalog_id, w) }},

latest_date_builds as (

    -- the certified model built last for each date (named in reasons)
    select kpi_date, model, built_at
    from (
        select
            kpi_date,
            model,
            built_at,
            row_number() over (partition by kpi_date order by built_at desc, model) as recency
        from ranked_builds
        where recency = 1
    ) as by_date
    where recency = 1

),

verdict_gates as (

    select * from {{ rr_history_relation('rr_date_verdict_gates') }}
    where invocation_id = {{ rr_sql_text(invocation_id) }}

),

first_gate_problems as (

    select
        kpi_date,
        min(case when tests_failed > 0 then gate_order end) as failed_order,
        min(case when tests_ran < tests_expected then gate_order end) as incomplete_order,
        sum(tests_expected) as tests_expected,
        sum(tests_ran) as tests_ran,
        sum(tests_passed) as tests_passed
    from verdict_gates
    group by kpi_date

),

verdict_dates as (

    select
        dates.kpi_date,
        dates.last_built_at,
        dates.raw_load_id,
        problems.tests_expected,
        problems.tests_ran,
        problems.tests_passed,
        case
            when this_invocation.definitions_version is null then
                coalesce(this_invocation.definitions_problem, 'definitions differ from the lock')
            when dates.raw_load_id is null then
                'no raw load is recorded for this date (load the raw data with python -m seeds_loader load)'
            when failed.gate is not null then
                failed.gate || ' FAILED: ' || failed.first_failing_test
                || case when failed.tests_failed > 1 then ' and ' || {{ rr_text('failed.tests_failed - 1') }} || ' more' else '' end
            when dates.never_built_model is not null then
                dates.never_built_model || ' was never built for this date'
            when dates.unfinished_model is not null then
                dates.unfinished_model || ' was last built by a dbt run that did not finish, or under which the raw data changed'
            when dates.other_definitions_model is not null then
                dates.other_definitions_model || ' was last built for this date under ' || dates.other_definitions
                || ', not under these (v' || {{ rr_text('this_invocation.definitions_version') }} || '): rebuild it'
            when dates.stale_model is not null then
                'raw data changed since ' || dates.stale_model || ' was built for this date (load '
                || {{ rr_text('dates.raw_load_id') }} || ')'
            when dates.tainted_model is not null then
                dates.tainted_model || ' was built while an earlier date (' || {{ rr_text('dates.tainted_by_date') }}
                || ') was not certified under these definitions: rebuild from that date'
            when problems.tests_ran = 0 then
                latest.model || ' was rebuilt at ' || {{ rr_format_timestamp('latest.built_at') }}
                || ' UTC after its last complete check (no gate test has run since)'
            when incomplete.gate is not null then
                incomplete.gate || ' ran ' || {{ rr_text('incomplete.tests_ran') }} || ' of its '
                || {{ rr_text('incomplete.tests_expected') }} || ' tests since ' || latest.model
                || ' was rebuilt at ' || {{ rr_format_timestamp('latest.built_at') }} || ' UTC'
        end as reason,
        this_invocation.definitions_version,
        this_invocation.definitions_sha256
    from date_builds as dates
    cross join this_invocation
    inner join first_gate_problems as problems
        on problems.kpi_date = dates.kpi_date
    left join verdict_gates as failed
        on failed.kpi_date = dates.kpi_date and failed.gate_order = problems.failed_order
    left join verdict_gates as incomplete
        on incomplete.kpi_date = dates.kpi_date and incomplete.gate_order = problems.incomplete_order
    left join latest_date_builds as latest
        on latest.kpi_date = dates.kpi_date

)

select
    {{ rr_sql_text(invocation_id) }}, {{ rr_sql_text(rr_pipeline_run_id()) }}, {{ rr_sql_timestamp(rr_utc_now()) }},
    kpi_date, reason is null, reason, raw_load_id, last_built_at, tests_expected, tests_ran, tests_passed,
    definitions_version, definitions_sha256
from verdict_dates
{%- endmacro %}
