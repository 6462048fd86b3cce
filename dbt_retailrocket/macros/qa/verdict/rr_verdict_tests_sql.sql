{% macro rr_verdict_tests_sql(catalog_id, w) -%}
    {#- Per checked date and gate test of the catalog: the result the verdict counts (null: none).
        A result counts for D when it comes from a finished invocation that ran under this
        invocation's definitions, covered D, saw raw data at least as new as D's, and started
        after every model the test reads was last rebuilt for D. -#}
with

{{ rr_verdict_inputs_ctes(catalog_id, w) }},

test_parents as (

    select catalog.unique_id as test_id, catalog.model as parent_id
    from project_catalog as catalog
    where catalog.kind = 'test_parent'

),

parent_builds as (

    -- the latest build covering each date of every model a gate test reads (any materialization)
    select spine.kpi_date, builds.unique_id, max(builds.built_at) as built_at
    from spine
    inner join {{ rr_history_relation('rr_model_builds') }} as builds
        on {{ rr_build_covers('builds', 'spine.kpi_date') }}
    where builds.unique_id in (select parent_id from test_parents)
    group by spine.kpi_date, builds.unique_id

),

test_checks_after as (

    -- a test's result holds for a date until one of the models it reads is rebuilt for that date
    select
        spine.kpi_date,
        tests.unique_id as test_id,
        max(parent_builds.built_at) as checks_after
    from spine
    cross join project_catalog as tests
    left join test_parents
        on test_parents.test_id = tests.unique_id
    left join parent_builds
        on parent_builds.kpi_date = spine.kpi_date and parent_builds.unique_id = test_parents.parent_id
    where tests.kind = 'gate_test'
    group by spine.kpi_date, tests.unique_id

),

attributed_results as (

    -- results whose failing rows were placed on their dates (rr_failing_dates)
    select distinct invocation_id, unique_id from {{ rr_history_relation('rr_node_failing_dates') }}

),

ranked_results as (

    -- a result placed on its dates counts as a pass, 0 failing rows, on every other date
    select
        dates.kpi_date,
        results.unique_id,
        case
            when attributed.unique_id is not null and on_date.kpi_date is null then 'pass'
            else results.status
        end as status,
        case
            when attributed.unique_id is not null then coalesce(on_date.failures, 0)
            else results.failures
        end as failures,
        row_number() over (
            partition by dates.kpi_date, results.unique_id order by results.started_at desc
        ) as recency
    from date_builds as dates
    cross join this_invocation
    inner join test_checks_after as after
        on after.kpi_date = dates.kpi_date
    inner join {{ rr_history_relation('rr_node_results') }} as results
        on results.unique_id = after.test_id
        and results.resource_type = 'test'
        and results.status in ('pass', 'warn', 'fail', 'error')
        and (after.checks_after is null or results.started_at > after.checks_after)
    inner join finished_invocations as invocations
        on invocations.invocation_id = results.invocation_id
        and invocations.raw_load_id >= dates.raw_load_id
        and invocations.definitions_sha256 = this_invocation.definitions_sha256
        and (invocations.window_start is null or invocations.window_start <= dates.kpi_date)
        and (invocations.window_end is null or dates.kpi_date <= invocations.window_end)
    left join attributed_results as attributed
        on attributed.invocation_id = results.invocation_id and attributed.unique_id = results.unique_id
    left join {{ rr_history_relation('rr_node_failing_dates') }} as on_date
        on on_date.invocation_id = results.invocation_id
        and on_date.unique_id = results.unique_id
        and on_date.kpi_date = dates.kpi_date

),

verdict_tests as (

    select
        dates.kpi_date,
        catalog.gate,
        {{ rr_gate_order_sql('catalog.gate') }} as gate_order,
        catalog.unique_id,
        catalog.name as test_name,
        results.status,
        results.failures
    from date_builds as dates
    cross join project_catalog as catalog
    left join ranked_results as results
        on results.kpi_date = dates.kpi_date
        and results.unique_id = catalog.unique_id
        and results.recency = 1
    where catalog.kind = 'gate_test'

)

select
    {{ rr_sql_text(invocation_id) }}, kpi_date, gate, gate_order, unique_id, test_name, status, failures
from verdict_tests
{%- endmacro %}
