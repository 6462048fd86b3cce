{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='item_id',
        indexes=rr_postgres_indexes([['item_id']]),
    )
}}

{#- Incremental by item: a run recomputes the whole history of every item with a property
    logged in its window (and of every item whose history had a change in the window) and
    replaces those items' rows; other items are untouched. Without target_date: every item. -#}

with

stg_rr_item_state_log as (

    select * from {{ ref('stg_rr_item_state_log') }}
    {%- if is_incremental() %}
    where item_id in (
        select item_id from {{ ref('stg_rr_item_state_log') }}
        where {{ rr_date_filter('known_date', true) }}
        union
        select item_id from {{ this }}
        where {{ rr_date_filter('valid_from_date', true) }}
    )
    {%- endif %}

),

last_value_per_date as (

    -- the state an item had at the end of each Asia/Seoul date on which a property was logged:
    -- a later row of the same date wins (equal timestamps: the larger value, deterministically)
    select
        item_id,
        known_date,
        property_name,
        category_id,
        is_available,
        row_number() over (
            partition by item_id, known_date, property_name
            order by known_at_ms desc, raw_value desc
        ) as recency_rank
    from stg_rr_item_state_log
    where category_id is not null or is_available is not null

),

logged_dates as (

    select
        item_id,
        known_date,
        max(category_id) as category_id,
        bool_or(is_available) as is_available
    from last_value_per_date
    where recency_rank = 1
    group by 1, 2

),

carried_forward_groups as (

    -- a property missing on a date keeps its previous value: number the runs that start at
    -- each logged value, then spread the value over its run
    select
        item_id,
        known_date,
        category_id,
        is_available,
        count(category_id) over (
            partition by item_id order by known_date rows between unbounded preceding and current row
        ) as category_run,
        count(is_available) over (
            partition by item_id order by known_date rows between unbounded preceding and current row
        ) as availability_run
    from logged_dates

),

states as (

    select
        item_id,
        known_date,
        max(category_id) over (partition by item_id, category_run) as category_id,
        bool_or(is_available) over (partition by item_id, availability_run) as is_available
    from carried_forward_groups

),

changes as (

    -- keep a date only when the state differs from the previous one
    select
        *,
        lag(category_id) over (partition by item_id order by known_date) as previous_category_id,
        lag(is_available) over (partition by item_id order by known_date) as previous_is_available,
        row_number() over (partition by item_id order by known_date) as state_number
    from states

),

final as (

    select
        item_id,
        category_id,
        is_available,
        known_date as valid_from_date,
        {{ rr_add_days(
            'lead(known_date) over (partition by item_id order by known_date)', '-1'
        ) }} as valid_to_date
    from changes
    where state_number = 1
        or category_id is distinct from previous_category_id
        or is_available is distinct from previous_is_available

)

select * from final
