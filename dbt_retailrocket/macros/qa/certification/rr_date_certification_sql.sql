{#-
    The certification of every date of the raw events now loaded (docs block rr_certification):
    D is certified now when its latest verdict is OK, no certified model was rebuilt for D since,
    the raw data D depends on did not change since, and every earlier date is certified too,
    under the same definitions (a date's cohorts and CRM histories read all earlier dates). Each
    date that is not gets a one-line reason.

    The one definition: the view model qa.rr_date_certification passes its refs in (lineage in
    dbt docs); a build's stamp inlines it over the same tables (rr_stamp_model_build), since a
    build may run before the view of this version exists (the first run of an upgrade).
    `relations`: {verdicts, builds, catalog, invocations, loads, fingerprints}.
-#}
{% macro rr_date_certification_sql(relations) -%}
with

rr_date_verdicts as (

    select * from {{ relations.verdicts }}

),

rr_model_builds as (

    select * from {{ relations.builds }}

),

rr_catalog as (

    select * from {{ relations.catalog }}

),

rr_invocations as (

    select * from {{ relations.invocations }}

),

raw_rr_loads as (

    select * from {{ relations.loads }}

),

raw_rr_date_fingerprints as (

    select * from {{ relations.fingerprints }}

),

spine as (

    -- the dates of the raw events now loaded (the last load's fingerprints)
    select fingerprints.fp_date as kpi_date
    from raw_rr_date_fingerprints as fingerprints
    where fingerprints.source = 'events'
        and fingerprints.fp_date is not null
        and fingerprints.load_id = (
            select max(latest.load_id) from raw_rr_date_fingerprints as latest where latest.source = 'events'
        )

),

raw_versions as (

    -- per date: the last raw load that changed anything the date depends on
    select spine.kpi_date, max(loads.load_id) as raw_load_id
    from spine
    inner join raw_rr_loads as loads
        on loads.first_changed_date <= spine.kpi_date
    group by spine.kpi_date

),

latest_catalog as (

    select distinct rr_catalog.unique_id
    from rr_catalog
    where rr_catalog.kind = 'certified_model'
        and rr_catalog.catalog_id = (
            select latest.catalog_id from rr_invocations as latest
            where latest.phase = 'start'
            order by latest.recorded_at desc
            limit 1
        )

),

ranked_builds as (

    select
        spine.kpi_date,
        rr_model_builds.model,
        rr_model_builds.built_at,
        row_number() over (partition by spine.kpi_date order by rr_model_builds.built_at desc) as recency
    from spine
    inner join rr_model_builds
        on {{ rr_build_covers('rr_model_builds', 'spine.kpi_date') }}
    inner join latest_catalog
        on latest_catalog.unique_id = rr_model_builds.unique_id

),

ranked_verdicts as (

    select
        rr_date_verdicts.*,
        row_number() over (
            partition by rr_date_verdicts.kpi_date order by rr_date_verdicts.evaluated_at desc
        ) as recency
    from rr_date_verdicts

),

dates as (

    select
        spine.kpi_date,
        verdicts.evaluated_at as checked_at,
        verdicts.pipeline_run_id as checked_by_pipeline_run_id,
        verdicts.invocation_id as checked_by_invocation_id,
        verdicts.raw_load_id as checked_raw_load_id,
        verdicts.tests_expected,
        verdicts.tests_ran,
        verdicts.tests_passed,
        verdicts.definitions_version,
        verdicts.definitions_sha256,
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
            when verdicts.definitions_sha256 is null then
                'checked before definitions were locked: rebuild and check it under the lock (make build)'
        end as problem
    from spine
    left join ranked_verdicts as verdicts
        on verdicts.kpi_date = spine.kpi_date and verdicts.recency = 1
    left join ranked_builds as builds
        on builds.kpi_date = spine.kpi_date and builds.recency = 1
    left join raw_versions as versions
        on versions.kpi_date = spine.kpi_date
    left join raw_rr_loads as loads
        on loads.load_id = versions.raw_load_id

),

with_history as (

    select
        dates.*,
        min(case when dates.problem is not null then dates.kpi_date end) over (
            order by dates.kpi_date rows between unbounded preceding and current row
        ) as first_uncertified_date,
        -- one definitions state for every date up to this one (the problem-free ones)
        min(dates.definitions_sha256) over (
            order by dates.kpi_date rows between unbounded preceding and current row
        ) as lowest_sha256_so_far,
        max(dates.definitions_sha256) over (
            order by dates.kpi_date rows between unbounded preceding and current row
        ) as highest_sha256_so_far,
        min(dates.definitions_version) over (
            order by dates.kpi_date rows between unbounded preceding and current row
        ) as lowest_version_so_far,
        max(dates.definitions_version) over (
            order by dates.kpi_date rows between unbounded preceding and current row
        ) as highest_version_so_far
    from dates

),

final as (

    select
        with_history.kpi_date,
        with_history.first_uncertified_date is null
        and with_history.lowest_sha256_so_far = with_history.highest_sha256_so_far as is_certified,
        case
            when with_history.problem is not null then with_history.problem
            when with_history.first_uncertified_date is not null then
                'an earlier date is not certified: ' || {{ rr_text('with_history.first_uncertified_date') }}
                || ' (' || earliest.problem || ')'
            when with_history.lowest_sha256_so_far <> with_history.highest_sha256_so_far then
                'the dates up to this one were certified under different definitions (v'
                || {{ rr_text('with_history.lowest_version_so_far') }} || ' .. v'
                || {{ rr_text('with_history.highest_version_so_far') }} || '): rebuild them under one (make build)'
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
        with_history.tests_passed,
        with_history.definitions_version,
        with_history.definitions_sha256
    from with_history
    left join dates as earliest
        on earliest.kpi_date = with_history.first_uncertified_date

)

select * from final
{%- endmacro %}
