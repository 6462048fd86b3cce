{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='item_id',
        indexes=rr_postgres_indexes([['item_id']]),
    )
}}

{#- Every item with a readable property or an event in the built history, with its latest known
    category and availability. Incremental by item: a run recomputes the items with an event or
    a logged property in its window and replaces their rows. -#}

-- depends_on: {{ ref('stg_rr_item_state_log') }}

with

stg_rr_item_state_history as (

    select * from {{ ref('stg_rr_item_state_history') }}

),

dim_rr_category as (

    select * from {{ ref('dim_rr_category') }}

),

fact_rr_events as (

    select * from {{ ref('fact_rr_events') }}

),

{%- if is_incremental() %}

items_in_window as (

    select item_id from {{ ref('fact_rr_events') }}
    where {{ rr_date_filter('event_date', true) }}
    union
    select item_id from {{ ref('stg_rr_item_state_log') }}
    where {{ rr_date_filter('known_date', true) }}

),
{%- endif %}

current_states as (

    select * from stg_rr_item_state_history
    where valid_to_date is null
    {%- if is_incremental() %}
        and item_id in (select item_id from items_in_window)
    {%- endif %}

),

items_with_events as (

    select distinct item_id
    from fact_rr_events
    {%- if is_incremental() %}
    where item_id in (select item_id from items_in_window)
    {%- endif %}

),

all_items as (

    -- items with properties, plus items seen in events without any property
    select item_id from current_states
    union
    select item_id from items_with_events

),

final as (

    select
        all_items.item_id,
        current_states.category_id,
        dim_rr_category.root_category_id,
        dim_rr_category.depth as category_depth,
        case
            when current_states.item_id is null then 'no_properties'
            when current_states.category_id is null then 'no_category'
            when dim_rr_category.category_id is null then 'category_not_in_tree'
            else 'known'
        end as category_status,
        current_states.is_available,
        current_states.item_id is not null as has_properties,
        current_states.valid_from_date as state_known_since_date,
        items_with_events.item_id is not null as has_events
    from all_items
    left join current_states
        on all_items.item_id = current_states.item_id
    left join dim_rr_category
        on current_states.category_id = dim_rr_category.category_id
    left join items_with_events
        on all_items.item_id = items_with_events.item_id

)

select * from final
