with

stg_rr_item_snapshot as (

    select * from {{ ref('stg_rr_item_snapshot') }}

),

dim_rr_category as (

    select * from {{ ref('dim_rr_category') }}

),

fact_rr_events as (

    select * from {{ ref('fact_rr_events') }}
    where {{ rr_date_filter('event_date', false) }}

),

item_activity as (

    select
        item_id,
        min(event_date) as first_event_date,
        max(event_date) as last_event_date,
        count(case when event_type = 'view' then 1 end) as view_count,
        count(case when event_type = 'addtocart' then 1 end) as addtocart_count,
        count(case when event_type = 'transaction' then 1 end) as purchase_count
    from fact_rr_events
    group by 1

),

all_items as (

    -- items with properties, plus items seen in events without any property
    select item_id from stg_rr_item_snapshot
    union
    select item_id from item_activity

),

final as (

    select
        all_items.item_id,
        stg_rr_item_snapshot.category_id,
        dim_rr_category.root_category_id,
        dim_rr_category.depth as category_depth,
        case
            when stg_rr_item_snapshot.item_id is null then 'no_properties'
            when stg_rr_item_snapshot.category_id is null then 'no_category'
            when dim_rr_category.category_id is null then 'category_not_in_tree'
            else 'known'
        end as category_status,
        stg_rr_item_snapshot.is_available,
        stg_rr_item_snapshot.item_id is not null as has_properties,
        stg_rr_item_snapshot.state_known_since_date,
        item_activity.first_event_date,
        item_activity.last_event_date,
        coalesce(item_activity.view_count, 0) as view_count,
        coalesce(item_activity.addtocart_count, 0) as addtocart_count,
        coalesce(item_activity.purchase_count, 0) as purchase_count
    from all_items
    left join stg_rr_item_snapshot
        on all_items.item_id = stg_rr_item_snapshot.item_id
    left join dim_rr_category
        on stg_rr_item_snapshot.category_id = dim_rr_category.category_id
    left join item_activity
        on all_items.item_id = item_activity.item_id

)

select * from final
