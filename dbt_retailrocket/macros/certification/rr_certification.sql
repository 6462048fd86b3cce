{#-
    Certification: a report exists only for numbers that every gate checked, on the raw data
    now loaded (docs block `rr_certification`). One definition, in three parts:

    1. The verdict (rr_verdict_ctes, rr_record_verdicts), evaluated at the end of every invocation for the dates it
       checked, and appended to qa.rr_date_verdicts / _gates / _tests. A date D is OK
       when, for every incremental model (the catalog's certified models):
         - its latest build covering D exists, was made by an invocation that finished and under
           which the raw data did not change, on raw data at least as new as the last load that
           changed anything D depends on (any date up to D, or the category tree), and while
           every date before its window was certified;
       and every test of every quality gate (the complete set, from the manifest) has a result
       covering D, from such an invocation, that started after those builds and passed (`warn`
       allowed: the volume band). A result whose failing rows were placed on their dates
       (rr_failing_dates) failed or warned only on those dates, and passed on the others.
    2. The live view qa.rr_date_certification: D is certified now when its latest verdict is OK,
       no certified model was rebuilt for D since, the raw data D depends on did not change
       since, and every earlier date is certified too (a date's cohorts and CRM histories read
       all earlier dates). Each date that is not gets a one-line reason.
    3. Publication: the kpi schema's views show only certified dates (models/kpi/published).

    Everyone asks the same view: the export (exports/certification.py), `make check`, the DAG,
    the published views, and the build stamps (was the history certified?).
-#}

{% macro rr_gate_order_sql(gate_expression) -%}
    case {{ gate_expression }}
    {%- for gate in rr_quality_gates() %} when {{ rr_sql_text(gate) }} then {{ loop.index }}{% endfor %}
    else {{ rr_quality_gates() | length + 1 }} end
{%- endmacro %}


{% macro rr_text(expression) -%}
    cast({{ expression }} as {{ dbt.type_string() }})
{%- endmacro %}


{% macro rr_events_spine_sql() -%}
    {#- The dates of the raw events now loaded (their Asia/Seoul dates, from the last load's
        fingerprints): the dates that can have reports. -#}
    select fingerprints.fp_date as kpi_date
    from raw.raw_rr_date_fingerprints as fingerprints
    where fingerprints.source = 'events'
        and fingerprints.fp_date is not null
        and fingerprints.load_id = (
            select max(load_id) from raw.raw_rr_date_fingerprints where source = 'events'
        )
{%- endmacro %}


{% macro rr_raw_versions_sql(spine) -%}
    {#- Per date: the last raw load that changed anything the date depends on. -#}
    select {{ spine }}.kpi_date, max(loads.load_id) as raw_load_id
    from {{ spine }}
    inner join raw.raw_rr_loads as loads
        on loads.first_changed_date <= {{ spine }}.kpi_date
    group by {{ spine }}.kpi_date
{%- endmacro %}


{% macro rr_build_covers(builds, date_expression) -%}
    ({{ builds }}.is_full_build
        or (({{ builds }}.window_start is null or {{ builds }}.window_start <= {{ date_expression }})
            and ({{ builds }}.window_end is null or {{ date_expression }} <= {{ builds }}.window_end)))
{%- endmacro %}


{% macro rr_verdict_ctes(catalog_id, w, stage) -%}
    {#- The verdict's CTEs, in two stages, each evaluated once per invocation (rr_record_verdicts):
        stage 'tests' ends with verdict_tests (per date and gate test: the result that counts);
        stage 'dates' reads the gates recorded from those rows (rr_verdict_gates_sql) and ends
        with verdict_dates (one row per checked date, its reason). -#}
with

project_catalog as (

    {#- distinct: two invocations that start together may both record a new catalog (Spark has no
        lock to serialise them); its entries are the same rows -#}
    select distinct unique_id, name, gate, kind, model from qa.rr_catalog
    where catalog_id = {{ rr_sql_text(catalog_id) }}

),

spine as (

    select kpi_date from ({{ rr_events_spine_sql() }}) as events_spine
    where {{ rr_date_filter_for('kpi_date', w) }}

),

raw_versions as (

    {{ rr_raw_versions_sql('spine') }}

),

finished_invocations as (

    -- invocations that ended, with the same raw data at their start and end
    select starts.invocation_id, starts.raw_load_id, starts.window_start, starts.window_end
    from qa.rr_invocations as starts
    inner join qa.rr_invocations as ends
        on ends.invocation_id = starts.invocation_id and ends.phase = 'end'
    where starts.phase = 'start' and ends.raw_load_id = starts.raw_load_id

),

ranked_builds as (

    select
        spine.kpi_date,
        builds.unique_id,
        builds.model,
        builds.built_at,
        builds.on_certified_history,
        builds.first_uncertified_date,
        invocations.raw_load_id as built_on_raw_load_id,
        row_number() over (
            partition by spine.kpi_date, builds.unique_id order by builds.built_at desc
        ) as recency
    from spine
    inner join qa.rr_model_builds as builds
        on {{ rr_build_covers('builds', 'spine.kpi_date') }}
    inner join project_catalog as catalog
        on catalog.kind = 'certified_model' and catalog.unique_id = builds.unique_id
    left join finished_invocations as invocations
        on invocations.invocation_id = builds.invocation_id

),

expected_builds as (

    select spine.kpi_date, catalog.unique_id, catalog.name
    from spine
    cross join project_catalog as catalog
    where catalog.kind = 'certified_model'

),

{%- if stage == 'dates' %}

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

{%- endif %}

date_builds as (

    select
        expected.kpi_date,
        count(*) as models_expected,
        count(builds.unique_id) as models_built,
        max(builds.built_at) as last_built_at,
        min(case when builds.unique_id is null then expected.name end) as never_built_model,
        min(case when builds.built_on_raw_load_id is null then builds.model end) as unfinished_model,
        min(case when builds.built_on_raw_load_id < versions.raw_load_id then builds.model end) as stale_model,
        min(case when not builds.on_certified_history then builds.model end) as tainted_model,
        min(builds.first_uncertified_date) as tainted_by_date,
        max(versions.raw_load_id) as raw_load_id
    from expected_builds as expected
    left join ranked_builds as builds
        on builds.kpi_date = expected.kpi_date
        and builds.unique_id = expected.unique_id
        and builds.recency = 1
    left join raw_versions as versions
        on versions.kpi_date = expected.kpi_date
    group by expected.kpi_date

),

{%- if stage == 'tests' %}

test_parents as (

    select catalog.unique_id as test_id, catalog.model as parent_id
    from project_catalog as catalog
    where catalog.kind = 'test_parent'

),

parent_builds as (

    -- the latest build covering each date of every model a gate test reads (any materialization)
    select spine.kpi_date, builds.unique_id, max(builds.built_at) as built_at
    from spine
    inner join qa.rr_model_builds as builds
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
    select distinct invocation_id, unique_id from qa.rr_node_failing_dates

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
    inner join test_checks_after as after
        on after.kpi_date = dates.kpi_date
    inner join qa.rr_node_results as results
        on results.unique_id = after.test_id
        and results.resource_type = 'test'
        and results.status in ('pass', 'warn', 'fail', 'error')
        and (after.checks_after is null or results.started_at > after.checks_after)
    inner join finished_invocations as invocations
        on invocations.invocation_id = results.invocation_id
        and invocations.raw_load_id >= dates.raw_load_id
        and (invocations.window_start is null or invocations.window_start <= dates.kpi_date)
        and (invocations.window_end is null or dates.kpi_date <= invocations.window_end)
    left join attributed_results as attributed
        on attributed.invocation_id = results.invocation_id and attributed.unique_id = results.unique_id
    left join qa.rr_node_failing_dates as on_date
        on on_date.invocation_id = results.invocation_id
        and on_date.unique_id = results.unique_id
        and on_date.kpi_date = dates.kpi_date

),

verdict_tests as (

    -- the result each gate test had for the date: the one the verdict counts (null: none)
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
{%- else %}

verdict_gates as (

    select * from qa.rr_date_verdict_gates where invocation_id = {{ rr_sql_text(invocation_id) }}

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
            when dates.raw_load_id is null then
                'no raw load is recorded for this date (load the raw data with python -m seeds_loader load)'
            when failed.gate is not null then
                failed.gate || ' FAILED: ' || failed.first_failing_test
                || case when failed.tests_failed > 1 then ' and ' || {{ rr_text('failed.tests_failed - 1') }} || ' more' else '' end
            when dates.never_built_model is not null then
                dates.never_built_model || ' was never built for this date'
            when dates.unfinished_model is not null then
                dates.unfinished_model || ' was last built by a dbt run that did not finish, or under which the raw data changed'
            when dates.stale_model is not null then
                'raw data changed since ' || dates.stale_model || ' was built for this date (load '
                || {{ rr_text('dates.raw_load_id') }} || ')'
            when dates.tainted_model is not null then
                dates.tainted_model || ' was built while an earlier date (' || {{ rr_text('dates.tainted_by_date') }}
                || ') was not certified: rebuild from that date'
            when problems.tests_ran = 0 then
                latest.model || ' was rebuilt at ' || {{ rr_format_timestamp('latest.built_at') }}
                || ' UTC after its last complete check (no gate test has run since)'
            when incomplete.gate is not null then
                incomplete.gate || ' ran ' || {{ rr_text('incomplete.tests_ran') }} || ' of its '
                || {{ rr_text('incomplete.tests_expected') }} || ' tests since ' || latest.model
                || ' was rebuilt at ' || {{ rr_format_timestamp('latest.built_at') }} || ' UTC'
        end as reason
    from date_builds as dates
    inner join first_gate_problems as problems
        on problems.kpi_date = dates.kpi_date
    left join verdict_gates as failed
        on failed.kpi_date = dates.kpi_date and failed.gate_order = problems.failed_order
    left join verdict_gates as incomplete
        on incomplete.kpi_date = dates.kpi_date and incomplete.gate_order = problems.incomplete_order
    left join latest_date_builds as latest
        on latest.kpi_date = dates.kpi_date

)
{%- endif %}
{%- endmacro %}


{% macro rr_verdict_planner_settings() -%}
    {{- return(adapter.dispatch('rr_verdict_planner_settings')()) -}}
{%- endmacro %}

{% macro default__rr_verdict_planner_settings() -%}{%- endmacro %}

{% macro postgres__rr_verdict_planner_settings() -%}
    {#- The verdict CTEs read tables created and filled in this very run (no statistics yet), so
        PostgreSQL guesses a few rows each and picks nested loops: on 139 dates x 108 gate tests
        the per-test rows took minutes (measured: over 5 min against 1.4 s). Hash and merge joins
        only, for the rest of this hook's transaction. -#}
    set local enable_nestloop = off{{ rr_end() }}
{%- endmacro %}


{% macro rr_verdict_gates_sql(invocation) -%}
    {#- Per date and gate: its tests expected, ran, passed, warned and failed, and the first failing
        one, from the per-test rows the invocation recorded. -#}
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
    from qa.rr_date_verdict_tests
    where invocation_id = {{ rr_sql_text(invocation) }}
    group by invocation_id, kpi_date, gate, gate_order
{%- endmacro %}


{% macro rr_record_verdicts(catalog_id, w) -%}
    {#- Each part of the verdict is evaluated once (the chain of CTEs cost Spark seconds each time):
        the result of every gate test per date, then the gates from those rows, then the dates
        from the gates. -#}
    {%- set now = rr_utc_now() -%}
    {{ rr_verdict_planner_settings() }}
    {% call rr_append('qa.rr_date_verdict_tests', [
        'invocation_id', 'kpi_date', 'gate', 'gate_order', 'unique_id', 'test_name', 'status', 'failures'],
        'verdict') -%}
    {{ rr_verdict_ctes(catalog_id, w, 'tests') }}
    select
        {{ rr_sql_text(invocation_id) }}, kpi_date, gate, gate_order, unique_id, test_name, status, failures
    from verdict_tests
    {%- endcall %}{{ rr_end() }}
    {% call rr_append('qa.rr_date_verdict_gates', [
        'invocation_id', 'kpi_date', 'gate', 'gate_order', 'tests_expected', 'tests_ran', 'tests_passed',
        'tests_warned', 'tests_failed', 'first_failing_test'], 'verdict') -%}
    {{ rr_verdict_gates_sql(invocation_id) }}
    {%- endcall %}{{ rr_end() }}
    {% call rr_append('qa.rr_date_verdicts', [
        'invocation_id', 'pipeline_run_id', 'evaluated_at', 'kpi_date', 'is_ok', 'reason', 'raw_load_id',
        'last_built_at', 'tests_expected', 'tests_ran', 'tests_passed'], 'verdict') -%}
    {{ rr_verdict_ctes(catalog_id, w, 'dates') }}
    select
        {{ rr_sql_text(invocation_id) }}, {{ rr_sql_text(rr_pipeline_run_id()) }}, {{ rr_sql_timestamp(now) }},
        kpi_date, reason is null, reason, raw_load_id, last_built_at, tests_expected, tests_ran, tests_passed
    from verdict_dates
    {%- endcall %}
{%- endmacro %}


{% macro rr_create_certification_views() -%}
    {% call rr_view('qa', 'rr_date_certification') -%}
    with

    spine as (

        {{ rr_events_spine_sql() }}

    ),

    raw_versions as (

        {{ rr_raw_versions_sql('spine') }}

    ),

    latest_catalog as (

        select distinct catalog.unique_id
        from qa.rr_catalog as catalog
        where catalog.kind = 'certified_model'
            and catalog.catalog_id = (
                select latest.catalog_id from qa.rr_invocations as latest
                where latest.phase = 'start'
                order by latest.recorded_at desc
                limit 1
            )

    ),

    ranked_builds as (

        select
            spine.kpi_date,
            builds.model,
            builds.built_at,
            row_number() over (partition by spine.kpi_date order by builds.built_at desc) as recency
        from spine
        inner join qa.rr_model_builds as builds
            on {{ rr_build_covers('builds', 'spine.kpi_date') }}
        inner join latest_catalog
            on latest_catalog.unique_id = builds.unique_id

    ),

    ranked_verdicts as (

        select
            verdicts.*,
            row_number() over (
                partition by verdicts.kpi_date order by verdicts.evaluated_at desc
            ) as recency
        from qa.rr_date_verdicts as verdicts

    ),

    dates as (

        select
            spine.kpi_date,
            verdicts.is_ok as verdict_ok,
            verdicts.evaluated_at as checked_at,
            verdicts.pipeline_run_id as checked_by_pipeline_run_id,
            verdicts.invocation_id as checked_by_invocation_id,
            verdicts.raw_load_id as checked_raw_load_id,
            verdicts.tests_expected,
            verdicts.tests_ran,
            verdicts.tests_passed,
            builds.model as last_built_model,
            builds.built_at as last_built_at,
            versions.raw_load_id,
            loads.loaded_at as raw_loaded_at,
            case
                when verdicts.kpi_date is null then
                    'no dbt run has built and checked this date yet'
                when builds.built_at > verdicts.last_built_at then
                    builds.model || ' was rebuilt at ' || {{ rr_format_timestamp('builds.built_at') }}
                    || ' UTC after its last complete check'
                when versions.raw_load_id > verdicts.raw_load_id then
                    'raw data changed since this date was checked (load ' || {{ rr_text('versions.raw_load_id') }}
                    || ' at ' || {{ rr_format_timestamp('loads.loaded_at') }} || ' UTC changed '
                    || loads.changed_dates || ')'
                when not verdicts.is_ok then verdicts.reason
            end as problem
        from spine
        left join ranked_verdicts as verdicts
            on verdicts.kpi_date = spine.kpi_date and verdicts.recency = 1
        left join ranked_builds as builds
            on builds.kpi_date = spine.kpi_date and builds.recency = 1
        left join raw_versions as versions
            on versions.kpi_date = spine.kpi_date
        left join raw.raw_rr_loads as loads
            on loads.load_id = versions.raw_load_id

    ),

    with_history as (

        select
            dates.*,
            min(case when dates.problem is not null then dates.kpi_date end) over (
                order by dates.kpi_date rows between unbounded preceding and current row
            ) as first_uncertified_date
        from dates

    )

    select
        with_history.kpi_date,
        with_history.first_uncertified_date is null as is_certified,
        case
            when with_history.problem is not null then with_history.problem
            when with_history.first_uncertified_date is not null then
                'an earlier date is not certified: ' || {{ rr_text('with_history.first_uncertified_date') }}
                || ' (' || earliest.problem || ')'
        end as reason,
        with_history.first_uncertified_date,
        with_history.checked_at,
        with_history.checked_by_pipeline_run_id,
        with_history.checked_by_invocation_id,
        with_history.checked_raw_load_id,
        with_history.raw_load_id,
        with_history.raw_loaded_at,
        with_history.last_built_model,
        with_history.last_built_at,
        with_history.tests_expected,
        with_history.tests_ran,
        with_history.tests_passed
    from with_history
    left join dates as earliest
        on earliest.kpi_date = with_history.first_uncertified_date
    {%- endcall %}
{%- endmacro %}


{% macro rr_create_quality_check_runs_view() -%}
    {#- The original project's gate history (REFERENCE.md), by its column names. -#}
    {% call rr_view('qa', 'quality_check_runs') -%}
    select
        results.invocation_id || '/' || results.name as id,
        results.completed_at as checked_at,
        results.pipeline_run_id as dag_run_id,
        results.target_date,
        results.name as check_name,
        case results.status
            when 'pass' then 'PASS'
            when 'warn' then 'WARN'
            when 'skipped' then 'SKIPPED'
            else 'FAIL'
        end as status,
        results.failures as result_row_count,
        results.sample_rows,
        results.gate,
        results.model,
        results.window_start,
        results.window_end,
        results.invocation_id
    from qa.rr_node_results as results
    where results.resource_type = 'test'
    {%- endcall %}
{%- endmacro %}


{% macro rr_report_run(results) -%}
    {#- Prints one line per gate for this invocation's tests, the failing rows on-run-end
        recorded for each failing test (up to five), and the certification of the dates it
        checked; fails the invocation when the raw data changed under it (a retry can succeed:
        this is not a gate failure). -#}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set tests = [] -%}
    {%- for res in results if res.node.resource_type == 'test' -%}
        {%- do tests.append(res) -%}
    {%- endfor -%}
    {%- set w = rr_window(true) -%}
    {%- set window_text = 'all dates' if w.end is none else ((w.start.isoformat() if w.start else 'first date') ~ ' .. ' ~ w.end.isoformat()) -%}
    {%- if tests | length > 0 -%}
        {#- the failing rows on-run-end sampled once and recorded (rr_node_results.sample_rows) -#}
        {%- set samples = {} -%}
        {%- set recorded = run_query(
            "select unique_id, sample_rows from qa.rr_node_results where invocation_id = '"
            ~ invocation_id ~ "' and status = 'fail' and sample_rows is not null") -%}
        {%- for row in recorded.rows -%}{%- do samples.update({row[0]: row[1]}) -%}{%- endfor -%}
        {{ log('Quality gates (checked: ' ~ window_text ~ ')', info=True) }}
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
    {%- endif -%}
    {%- if not rr_raw_bookkeeping_exists() -%}{{ return('') }}{%- endif -%}
    {%- set raw = run_query("select phase, raw_load_id from qa.rr_invocations where invocation_id = '" ~ invocation_id ~ "' order by phase") -%}
    {%- set ids = {} -%}
    {%- for row in raw.rows -%}{%- do ids.update({row[0]: row[1]}) -%}{%- endfor -%}
    {%- set certification = run_query(
        'select kpi_date, is_certified, reason from qa.rr_date_certification where '
        ~ rr_date_filter_for('kpi_date', w) ~ ' order by kpi_date') -%}
    {%- set ns = namespace(first=none, last=none, certified=0, shown=0) -%}
    {{ log('Certification of the dates checked (' ~ window_text ~ '):', info=True) }}
    {%- for row in certification.rows -%}
        {%- if row[1] -%}
            {%- set ns.certified = ns.certified + 1 -%}
        {%- elif ns.shown < 5 -%}
            {%- set ns.shown = ns.shown + 1 -%}
            {{ log('  ' ~ row[0] ~ '  NOT CERTIFIED: ' ~ row[2], info=True) }}
        {%- endif -%}
    {%- endfor -%}
    {%- set missing = certification.rows | length - ns.certified -%}
    {{ log('  ' ~ ns.certified ~ ' of ' ~ (certification.rows | length) ~ ' dates certified' ~ ((', ' ~ (missing - ns.shown) ~ ' more not certified') if missing > ns.shown else ''), info=True) }}
    {%- if ids.get('start') != ids.get('end') -%}
        {{ exceptions.raise_compiler_error('the raw data changed during this dbt run (raw load ' ~ ids.get('start') ~ ' at its start, ' ~ ids.get('end') ~ ' at its end): its results certify nothing; run it again') }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
