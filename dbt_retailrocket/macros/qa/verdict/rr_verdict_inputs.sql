{#-
    The certification verdict (docs block rr_certification), evaluated at the end of every
    invocation for the dates it checked (rr_record_verdicts), in three steps: the result each gate
    test had for each date (rr_verdict_tests_sql), the gates (rr_verdict_gates_sql), the dates
    (rr_verdict_dates_sql). A date D is OK when this invocation ran under the locked definitions
    and, for every incremental model (the catalog's certified models):
      - its latest build covering D exists, was made by an invocation that finished, under which
        the raw data did not change and that ran under the same definitions, on raw data at least
        as new as the last load that changed anything D depends on, and while every date before
        its window was certified under those definitions;
    and every test of every locked gate has a result covering D from such an invocation, newer
    than those builds, that passed (`warn` allowed). A result whose failing rows were placed on
    their dates (rr_failing_dates) failed or warned only on those dates.
-#}

{% macro rr_verdict_inputs_ctes(catalog_id, w) -%}
    {#- The CTEs both steps read, ending with date_builds: per checked date, its certified models'
        latest builds and what is wrong with them. -#}
project_catalog as (

    {#- distinct: two invocations that start together may both record a new catalog (Spark has no
        lock to serialise them); its entries are the same rows -#}
    select distinct unique_id, name, gate, kind, model from {{ rr_history_relation('rr_catalog') }}
    where catalog_id = {{ rr_sql_text(catalog_id) }}

),

this_invocation as (

    -- the definitions this invocation ran under, as its start row recorded them
    select definitions_sha256, definitions_version, definitions_problem
    from {{ rr_history_relation('rr_invocations') }}
    where invocation_id = {{ rr_sql_text(invocation_id) }} and phase = 'start'

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
    select
        starts.invocation_id,
        starts.raw_load_id,
        starts.window_start,
        starts.window_end,
        starts.definitions_sha256,
        starts.definitions_version
    from {{ rr_history_relation('rr_invocations') }} as starts
    inner join {{ rr_history_relation('rr_invocations') }} as ends
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
        invocations.definitions_sha256 as built_under_sha256,
        invocations.definitions_version as built_under_version,
        row_number() over (
            partition by spine.kpi_date, builds.unique_id order by builds.built_at desc
        ) as recency
    from spine
    inner join {{ rr_history_relation('rr_model_builds') }} as builds
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
        min(case
            when coalesce(builds.built_under_sha256, '-') <> coalesce(this_invocation.definitions_sha256, '-')
                then builds.model
        end) as other_definitions_model,
        min(case
            when coalesce(builds.built_under_sha256, '-') <> coalesce(this_invocation.definitions_sha256, '-')
                then coalesce('v' || {{ rr_text('builds.built_under_version') }}, 'definitions that differ from the lock')
        end) as other_definitions,
        max(versions.raw_load_id) as raw_load_id
    from expected_builds as expected
    cross join this_invocation
    left join ranked_builds as builds
        on builds.kpi_date = expected.kpi_date
        and builds.unique_id = expected.unique_id
        and builds.recency = 1
    left join raw_versions as versions
        on versions.kpi_date = expected.kpi_date
    group by expected.kpi_date

)
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
