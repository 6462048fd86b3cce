{{
    config(
        materialized='incremental',
        incremental_strategy='rr_replace_dates',
        unique_key=['kpi_date', 'root_category_id'],
        rr_date_column='kpi_date',
        on_schema_change='fail',
        indexes=rr_postgres_indexes([['kpi_date']]),
    )
}}

with

fact_rr_events as (

    select * from {{ ref('fact_rr_events') }}
    where {{ rr_date_filter('event_date', is_incremental()) }}

),

stg_rr_item_state_history as (

    select * from {{ ref('stg_rr_item_state_history') }}

),

dim_rr_category as (

    select * from {{ ref('dim_rr_category') }}

),

events_with_root_category as (

    -- each event's item under the root category known at the end of the event's date;
    -- no known category (no property yet, or a category outside the tree) -> bucket -1
    select
        fact_rr_events.event_date as kpi_date,
        coalesce(dim_rr_category.root_category_id, -1) as root_category_id,
        fact_rr_events.session_id,
        fact_rr_events.visitor_id,
        fact_rr_events.event_type,
        fact_rr_events.transaction_id
    from fact_rr_events
    left join stg_rr_item_state_history
        on fact_rr_events.item_id = stg_rr_item_state_history.item_id
        and fact_rr_events.event_date >= stg_rr_item_state_history.valid_from_date
        and (
            stg_rr_item_state_history.valid_to_date is null
            or fact_rr_events.event_date <= stg_rr_item_state_history.valid_to_date
        )
    left join dim_rr_category
        on stg_rr_item_state_history.category_id = dim_rr_category.category_id

),

category_sessions as (

    -- a session counts for a root category when it has an event on an item under it
    select
        kpi_date,
        root_category_id,
        session_id,
        count(case when event_type = 'view' then 1 end) > 0 as has_view,
        count(case when event_type = 'addtocart' then 1 end) > 0 as has_cart,
        count(case when event_type = 'transaction' then 1 end) > 0 as has_purchase
    from events_with_root_category
    group by 1, 2, 3

),

{{ rr_funnel_ctes(['kpi_date', 'root_category_id'], 'events_with_root_category', 'category_sessions') }},

final as (

    select
        kpi_date,
        root_category_id,
        root_category_id = -1 as is_unknown_category,
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
