{{
    config(
        materialized='incremental',
        incremental_strategy='rr_replace_dates',
        unique_key=['kpi_date', 'cohort_type', 'cohort_week', 'week_index'],
        rr_date_column='kpi_date',
        indexes=rr_postgres_indexes([['kpi_date']]),
    )
}}

{#- Weekly cohorts as of each kpi_date D (docs block kpi_cohort_weekly), summed from the daily
    building blocks of fact_rr_cohort_activity_daily up to D: only data up to D counts. -#}

{%- set first_day = rr_parse_date(var('plausible_event_date_min'), 'var plausible_event_date_min') -%}
{%- set last_day = rr_parse_date(var('plausible_event_date_max'), 'var plausible_event_date_max') -%}
{%- set max_week_index = ((last_day - first_day).days // 7) + 2 -%}

with recursive

cohort_days as (

    -- every date up to the end of the window: a cohort as of D sums all earlier days
    select * from {{ ref('fact_rr_cohort_activity_daily') }}
    where {{ rr_date_filter('activity_date', false) }}

),

kpi_dates as (

    select distinct activity_date as kpi_date
    from cohort_days
    where {{ rr_date_filter('activity_date', is_incremental()) }}

),

week_offsets as (

    select 0 as week_index
    union all
    select week_index + 1 as week_index
    from week_offsets
    where week_index < {{ max_week_index }}

),

cohort_sizes as (

    select
        kpi_dates.kpi_date,
        cohort_days.cohort_type,
        cohort_days.cohort_week,
        sum(cohort_days.new_members) as cohort_size
    from kpi_dates
    inner join cohort_days
        on cohort_days.activity_date <= kpi_dates.kpi_date
    group by 1, 2, 3
    having sum(cohort_days.new_members) > 0

),

active_visitors as (

    select
        kpi_dates.kpi_date,
        cohort_days.cohort_type,
        cohort_days.cohort_week,
        cohort_days.activity_week,
        sum(cohort_days.members_first_active_in_week) as active_visitors
    from kpi_dates
    inner join cohort_days
        on cohort_days.activity_date <= kpi_dates.kpi_date
    group by 1, 2, 3, 4

),

cohort_grid as (

    -- every cohort with members by D, every week from its own up to D's week
    select
        cohort_sizes.kpi_date,
        cohort_sizes.cohort_type,
        cohort_sizes.cohort_week,
        week_offsets.week_index,
        {{ rr_add_days('cohort_sizes.cohort_week', '7 * week_offsets.week_index') }} as activity_week,
        cohort_sizes.cohort_size
    from cohort_sizes
    inner join week_offsets
        on {{ rr_add_days('cohort_sizes.cohort_week', '7 * week_offsets.week_index') }}
        <= {{ rr_week_start('cohort_sizes.kpi_date') }}

),

final as (

    select
        cohort_grid.kpi_date,
        cohort_grid.cohort_type,
        cohort_grid.cohort_week,
        cast(cohort_grid.week_index as integer) as week_index,
        cohort_grid.activity_week,
        cast(cohort_grid.cohort_size as bigint) as cohort_size,
        cast(coalesce(active_visitors.active_visitors, 0) as bigint) as active_visitors,
        {{ rr_ratio(
            'coalesce(active_visitors.active_visitors, 0)', 'cohort_grid.cohort_size'
        ) }} as retention_rate
    from cohort_grid
    left join active_visitors
        on cohort_grid.kpi_date = active_visitors.kpi_date
        and cohort_grid.cohort_type = active_visitors.cohort_type
        and cohort_grid.cohort_week = active_visitors.cohort_week
        and cohort_grid.activity_week = active_visitors.activity_week

)

select * from final
