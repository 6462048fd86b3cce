{#- qa.rr_certified_row_fingerprints: per kpi_build table and date, the fingerprint of the rows the
    latest build covering the date left (docs block rr_certification). That build's verdict is the
    one the certification counts, so these are the rows its gates checked. A build that recorded
    no fingerprint for the date (on Spark: killed between the build and the record) gives
    row_count null: no rows read can match it, and the export refuses the date. -#}

with

rr_model_builds as (

    select * from {{ ref('rr_model_builds') }}

),

rr_row_fingerprints as (

    select * from {{ ref('rr_row_fingerprints') }}

),

fingerprinted_builds as (

    -- the builds that record fingerprints, and the dates they replaced
    select
        rr_model_builds.invocation_id,
        rr_model_builds.unique_id,
        rr_model_builds.model,
        rr_model_builds.built_at,
        rr_model_builds.is_full_build,
        rr_model_builds.window_start,
        rr_model_builds.window_end
    from rr_model_builds
    where rr_model_builds.unique_id in (select rr_row_fingerprints.unique_id from rr_row_fingerprints)

),

dates as (

    select distinct
        rr_row_fingerprints.unique_id,
        rr_row_fingerprints.kpi_date
    from rr_row_fingerprints

),

ranked_builds as (

    select
        dates.kpi_date,
        fingerprinted_builds.invocation_id,
        fingerprinted_builds.unique_id,
        fingerprinted_builds.model,
        row_number() over (
            partition by dates.unique_id, dates.kpi_date order by fingerprinted_builds.built_at desc
        ) as recency
    from dates
    inner join fingerprinted_builds
        on fingerprinted_builds.unique_id = dates.unique_id
        and {{ rr_build_covers('fingerprinted_builds', 'dates.kpi_date') }}

),

final as (

    select
        ranked_builds.model,
        ranked_builds.kpi_date,
        rr_row_fingerprints.row_count,
        rr_row_fingerprints.rows_md5,
        ranked_builds.invocation_id as built_by_invocation_id
    from ranked_builds
    left join rr_row_fingerprints
        on rr_row_fingerprints.invocation_id = ranked_builds.invocation_id
        and rr_row_fingerprints.unique_id = ranked_builds.unique_id
        and rr_row_fingerprints.kpi_date = ranked_builds.kpi_date
    where ranked_builds.recency = 1

)

select * from final
