{{
    config(
        materialized='incremental',
        incremental_strategy='rr_replace_dates',
        unique_key='kpi_date',
        rr_date_column='kpi_date',
        indexes=rr_postgres_indexes([['kpi_date']]),
    )
}}

{#- Rows per layer for each Asia/Seoul date: the "Rows for D" of the report summary, built and
    checked like every number a report shows (the export reads no raw, staging or mart table). -#}

with

raw_rr_events as (

    select {{ rr_epoch_ms_to_kst_date(adapter.quote('timestamp')) }} as event_date
    from {{ source('retailrocket_raw', 'raw_rr_events') }}
    where {{ rr_epoch_ms_filter(adapter.quote('timestamp'), is_incremental()) }}

),

stg_rr_events as (

    select * from {{ ref('stg_rr_events') }}
    where {{ rr_date_filter('event_date', is_incremental()) }}

),

fact_rr_events as (

    select * from {{ ref('fact_rr_events') }}
    where {{ rr_date_filter('event_date', is_incremental()) }}

),

fact_rr_sessions as (

    select * from {{ ref('fact_rr_sessions') }}
    where {{ rr_date_filter('session_date', is_incremental()) }}

),

fact_rr_visitor_daily as (

    select * from {{ ref('fact_rr_visitor_daily') }}
    where {{ rr_date_filter('activity_date', is_incremental()) }}

),

raw_counts as (

    select
        event_date as kpi_date,
        count(*) as raw_events
    from raw_rr_events
    group by 1

),

staged_counts as (

    select
        event_date as kpi_date,
        count(*) as staged_events,
        sum(raw_row_count - 1) as duplicate_events_removed
    from stg_rr_events
    group by 1

),

fact_event_counts as (

    select
        event_date as kpi_date,
        count(*) as fact_events
    from fact_rr_events
    group by 1

),

session_counts as (

    select
        session_date as kpi_date,
        count(*) as fact_sessions
    from fact_rr_sessions
    group by 1

),

visitor_day_counts as (

    select
        activity_date as kpi_date,
        count(*) as visitor_days
    from fact_rr_visitor_daily
    group by 1

),

final as (

    select
        raw_counts.kpi_date,
        cast(raw_counts.raw_events as bigint) as raw_events,
        cast(coalesce(staged_counts.duplicate_events_removed, 0) as bigint) as duplicate_events_removed,
        cast(coalesce(staged_counts.staged_events, 0) as bigint) as staged_events,
        cast(coalesce(fact_event_counts.fact_events, 0) as bigint) as fact_events,
        cast(coalesce(session_counts.fact_sessions, 0) as bigint) as fact_sessions,
        cast(coalesce(visitor_day_counts.visitor_days, 0) as bigint) as visitor_days
    from raw_counts
    left join staged_counts
        on raw_counts.kpi_date = staged_counts.kpi_date
    left join fact_event_counts
        on raw_counts.kpi_date = fact_event_counts.kpi_date
    left join session_counts
        on raw_counts.kpi_date = session_counts.kpi_date
    left join visitor_day_counts
        on raw_counts.kpi_date = visitor_day_counts.kpi_date

)

select * from final
