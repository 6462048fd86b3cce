{{
    config(
        materialized='incremental',
        incremental_strategy='rr_replace_dates',
        unique_key=['visitor_id', 'activity_date'],
        rr_date_column='activity_date',
        indexes=rr_postgres_indexes([['activity_date'], ['visitor_id', 'activity_date']]),
    )
}}

{#- One row per visitor and Asia/Seoul date with activity: the building block of the visitor
    dimension, the weekly cohorts and the CRM segments, so that those never rescan events. -#}

with

fact_rr_events as (

    select * from {{ ref('fact_rr_events') }}
    where {{ rr_date_filter('event_date', is_incremental()) }}

),

last_item_by_type as (

    -- the visitor's last viewed and last carted item of the day (equal timestamps: the
    -- larger item id, so the choice is deterministic)
    select
        visitor_id,
        event_date,
        event_type,
        item_id,
        event_at_kst,
        row_number() over (
            partition by visitor_id, event_date, event_type
            order by event_ts_ms desc, item_id desc
        ) as recency_rank
    from fact_rr_events
    where event_type in ('view', 'addtocart')

),

daily_counts as (

    select
        visitor_id,
        event_date as activity_date,
        count(*) as event_count,
        {{ rr_count_views() }} as view_count,
        {{ rr_count_addtocarts() }} as addtocart_count,
        {{ rr_count_purchases() }} as transaction_count,
        count(distinct session_id) as session_count,
        min(event_at_kst) as first_event_at_kst,
        max(event_at_kst) as last_event_at_kst,
        max(case when event_type = 'transaction' then event_at_kst end) as last_purchased_at_kst
    from fact_rr_events
    group by 1, 2

),

final as (

    select
        daily_counts.visitor_id,
        daily_counts.activity_date,
        daily_counts.event_count,
        daily_counts.view_count,
        daily_counts.addtocart_count,
        daily_counts.transaction_count,
        daily_counts.session_count,
        daily_counts.first_event_at_kst,
        daily_counts.last_event_at_kst,
        daily_counts.last_purchased_at_kst,
        last_view.item_id as last_viewed_item_id,
        last_view.event_at_kst as last_viewed_at_kst,
        last_cart.item_id as last_carted_item_id,
        last_cart.event_at_kst as last_carted_at_kst
    from daily_counts
    left join last_item_by_type as last_view
        on daily_counts.visitor_id = last_view.visitor_id
        and daily_counts.activity_date = last_view.event_date
        and last_view.event_type = 'view'
        and last_view.recency_rank = 1
    left join last_item_by_type as last_cart
        on daily_counts.visitor_id = last_cart.visitor_id
        and daily_counts.activity_date = last_cart.event_date
        and last_cart.event_type = 'addtocart'
        and last_cart.recency_rank = 1

)

select * from final
