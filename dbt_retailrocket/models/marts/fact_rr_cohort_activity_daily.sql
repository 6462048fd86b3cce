{{
    config(
        materialized='incremental',
        incremental_strategy='rr_replace_dates',
        unique_key=['activity_date', 'cohort_type', 'cohort_week'],
        rr_date_column='activity_date',
        indexes=rr_postgres_indexes([['activity_date']]),
    )
}}

{#- The building blocks of the weekly cohorts (docs block kpi_cohort_weekly), one row per
    Asia/Seoul date, cohort type and cohort week: how many visitors joined a cohort that day
    (their first visit, or first purchase, was that day) and how many were active that day for
    the first time in the day's week. Summing these up to a date D gives every cohort as of D,
    so mart_rr_cohort_weekly never rescans the visitors' history. Each row depends only on data
    up to its own date (a visitor's first date is never later than a day it was active). -#}

with

visitor_days as (

    select * from {{ ref('fact_rr_visitor_daily') }}
    where {{ rr_date_filter('activity_date', is_incremental()) }}

),

dim_rr_visitor as (

    select * from {{ ref('dim_rr_visitor') }}

),

earlier_days_of_the_week as (

    -- was the visitor already active (or buying) earlier in the same week?
    select
        visitor_days.visitor_id,
        visitor_days.activity_date,
        count(earlier.activity_date) > 0 as was_active_earlier_in_week,
        count(case when earlier.transaction_count > 0 then 1 end) > 0 as bought_earlier_in_week
    from visitor_days
    left join {{ ref('fact_rr_visitor_daily') }} as earlier
        on visitor_days.visitor_id = earlier.visitor_id
        and earlier.activity_date >= {{ rr_week_start('visitor_days.activity_date') }}
        and earlier.activity_date < visitor_days.activity_date
    group by 1, 2

),

visitor_day_cohorts as (

    {#- per cohort type: the visitor's first date of the defining activity, the flag saying it
        already happened earlier in the week, and which visitor-days count at all -#}
    {%- set cohort_types = [
        ('first_visit', 'first_event_date', 'was_active_earlier_in_week', none),
        ('first_purchase', 'first_purchase_date', 'bought_earlier_in_week', 'visitor_days.transaction_count > 0'),
    ] %}
    {%- for cohort_type, first_date, earlier_flag, condition in cohort_types %}
    select
        visitor_days.activity_date,
        '{{ cohort_type }}' as cohort_type,
        {{ rr_week_start('dim_rr_visitor.' ~ first_date) }} as cohort_week,
        dim_rr_visitor.{{ first_date }} = visitor_days.activity_date as is_cohort_entry,
        not earlier_days_of_the_week.{{ earlier_flag }} as is_first_activity_in_week
    from visitor_days
    inner join dim_rr_visitor
        on visitor_days.visitor_id = dim_rr_visitor.visitor_id
    inner join earlier_days_of_the_week
        on visitor_days.visitor_id = earlier_days_of_the_week.visitor_id
        and visitor_days.activity_date = earlier_days_of_the_week.activity_date
    {%- if condition %}
    where {{ condition }}
    {%- endif %}
    {% if not loop.last %}
    union all
    {% endif %}
    {%- endfor %}

),

final as (

    select
        activity_date,
        cohort_type,
        cohort_week,
        {{ rr_week_start('activity_date') }} as activity_week,
        count(case when is_cohort_entry then 1 end) as new_members,
        count(case when is_first_activity_in_week then 1 end) as members_first_active_in_week
    from visitor_day_cohorts
    group by 1, 2, 3

)

select * from final
