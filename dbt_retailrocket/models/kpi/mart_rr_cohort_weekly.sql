{{
    config(
        materialized='incremental',
        incremental_strategy='rr_replace_dates',
        unique_key=['kpi_date', 'cohort_type', 'cohort_week', 'week_index'],
        rr_date_column='kpi_date',
        on_schema_change='fail',
    )
}}

{#- Weekly cohorts as of each kpi_date D (docs block kpi_cohort_weekly). Only activity up to D
    counts: a visitor joins a cohort on the first date of the activity that defines it, and is
    active in a week from the first date of that activity in the week; so the cohorts of
    every date come from the same small aggregates, without rescanning events per date. -#}

{%- set first_day = rr_parse_date(var('plausible_event_date_min'), 'var plausible_event_date_min') -%}
{%- set last_day = rr_parse_date(var('plausible_event_date_max'), 'var plausible_event_date_max') -%}
{%- set max_week_index = ((last_day - first_day).days // 7) + 2 -%}

with recursive

fact_rr_visitor_daily as (

    -- all history up to the end of the window: cohorts need every earlier week
    select * from {{ ref('fact_rr_visitor_daily') }}
    where {{ rr_date_filter('activity_date', false) }}

),

kpi_dates as (

    select distinct activity_date as kpi_date
    from fact_rr_visitor_daily
    where {{ rr_date_filter('activity_date', is_incremental()) }}

),

week_offsets as (

    select 0 as week_index
    union all
    select week_index + 1 as week_index
    from week_offsets
    where week_index < {{ max_week_index }}

),

visitor_weeks as (

    -- per visitor and cohort type, each week with the defining activity and its first date
    select
        visitor_id,
        'first_visit' as cohort_type,
        {{ rr_week_start('activity_date') }} as activity_week,
        min(activity_date) as first_date_in_week
    from fact_rr_visitor_daily
    group by 1, 2, 3

    union all

    select
        visitor_id,
        'first_purchase' as cohort_type,
        {{ rr_week_start('activity_date') }} as activity_week,
        min(activity_date) as first_date_in_week
    from fact_rr_visitor_daily
    where transaction_count > 0
    group by 1, 2, 3

),

visitor_cohorts as (

    select
        visitor_id,
        cohort_type,
        min(activity_week) as cohort_week,
        min(first_date_in_week) as cohort_entry_date
    from visitor_weeks
    group by 1, 2

),

cohort_entries as (

    select
        cohort_type,
        cohort_week,
        cohort_entry_date,
        count(*) as visitors
    from visitor_cohorts
    group by 1, 2, 3

),

cohort_week_activity as (

    select
        visitor_cohorts.cohort_type,
        visitor_cohorts.cohort_week,
        visitor_weeks.activity_week,
        visitor_weeks.first_date_in_week,
        count(*) as visitors
    from visitor_weeks
    inner join visitor_cohorts
        on visitor_weeks.visitor_id = visitor_cohorts.visitor_id
        and visitor_weeks.cohort_type = visitor_cohorts.cohort_type
    group by 1, 2, 3, 4

),

cohort_sizes as (

    select
        kpi_dates.kpi_date,
        cohort_entries.cohort_type,
        cohort_entries.cohort_week,
        sum(cohort_entries.visitors) as cohort_size
    from kpi_dates
    inner join cohort_entries
        on cohort_entries.cohort_entry_date <= kpi_dates.kpi_date
    group by 1, 2, 3

),

active_visitors as (

    select
        kpi_dates.kpi_date,
        cohort_week_activity.cohort_type,
        cohort_week_activity.cohort_week,
        cohort_week_activity.activity_week,
        sum(cohort_week_activity.visitors) as active_visitors
    from kpi_dates
    inner join cohort_week_activity
        on cohort_week_activity.first_date_in_week <= kpi_dates.kpi_date
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
        {{ rr_ratio('coalesce(active_visitors.active_visitors, 0)', 'cohort_grid.cohort_size') }} as retention_rate
    from cohort_grid
    left join active_visitors
        on cohort_grid.kpi_date = active_visitors.kpi_date
        and cohort_grid.cohort_type = active_visitors.cohort_type
        and cohort_grid.cohort_week = active_visitors.cohort_week
        and cohort_grid.activity_week = active_visitors.activity_week

)

select * from final
