{{
    config(
        materialized='incremental',
        incremental_strategy='rr_replace_dates',
        unique_key='kpi_date',
        rr_date_column='kpi_date',
        indexes=rr_postgres_indexes([['kpi_date']]),
    )
}}

{#- Counts and rates: macro rr_funnel_ctes; definitions: docs blocks kpi_* (_kpi__docs.md). -#}

with

fact_rr_events as (

    select * from {{ ref('fact_rr_events') }}
    where {{ rr_date_filter('event_date', is_incremental()) }}

),

fact_rr_sessions as (

    select * from {{ ref('fact_rr_sessions') }}
    where {{ rr_date_filter('session_date', is_incremental()) }}

),

daily_events as (

    select
        event_date as kpi_date,
        visitor_id,
        event_type,
        transaction_id
    from fact_rr_events

),

daily_sessions as (

    select
        session_date as kpi_date,
        has_view,
        has_cart,
        has_purchase
    from fact_rr_sessions

),

{{ rr_funnel_ctes(['kpi_date'], 'daily_events', 'daily_sessions') }},

final as (

    select * from funnel

)

select * from final
