{{
    config(
        materialized='incremental',
        incremental_strategy='rr_replace_dates',
        unique_key=['kpi_date', 'root_category_id'],
        rr_date_column='kpi_date',
        indexes=rr_postgres_indexes([['kpi_date']]),
    )
}}

with

fact_rr_events as (

    select * from {{ ref('fact_rr_events') }}
    where {{ rr_date_filter('event_date', is_incremental()) }}

),

events_with_root_category as (

    -- each event's item under the root category known at the end of the event's date;
    -- no known category (no property yet, or a category outside the tree) -> bucket -1
    select
        fact_rr_events.event_date as kpi_date,
        {{ rr_root_category_id() }} as root_category_id,
        fact_rr_events.session_id,
        fact_rr_events.visitor_id,
        fact_rr_events.event_type,
        fact_rr_events.transaction_id
    from fact_rr_events
    {{ rr_join_root_category_as_of('fact_rr_events.item_id', 'fact_rr_events.event_date') }}

),

category_sessions as (

    -- a session counts for a root category when it has an event on an item under it
    select
        kpi_date,
        root_category_id,
        session_id,
        {{ rr_count_views() }} > 0 as has_view,
        {{ rr_count_addtocarts() }} > 0 as has_cart,
        {{ rr_count_purchases() }} > 0 as has_purchase
    from events_with_root_category
    group by 1, 2, 3

),

{{ rr_funnel_ctes(['kpi_date', 'root_category_id'], 'events_with_root_category', 'category_sessions') }},

final as (

    select
        kpi_date,
        root_category_id,
        root_category_id = {{ rr_unknown_root_category_id() }} as is_unknown_category,
        visitors,
        sessions,
        views,
        addtocarts,
        purchases,
        sessions_with_view,
        sessions_with_cart,
        sessions_with_purchase,
        sessions_with_view_and_cart,
        sessions_with_cart_and_purchase,
        cvr_session_to_purchase,
        cvr_view_to_cart,
        cvr_cart_to_purchase
    from funnel

)

select * from final
