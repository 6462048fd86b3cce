{%- set as_of = rr_target_date() -%}

with

stg_rr_item_state_history as (

    select * from {{ ref('stg_rr_item_state_history') }}

),

final as (

    -- each item's state at the end of the run's date (without target_date: the latest state)
    select
        item_id,
        category_id,
        is_available,
        valid_from_date as state_known_since_date
    from stg_rr_item_state_history
    {%- if as_of is none %}
    where valid_to_date is null
    {%- else %}
    where valid_from_date <= {{ rr_date_literal(as_of) }}
        and (valid_to_date is null or valid_to_date >= {{ rr_date_literal(as_of) }})
    {%- endif %}

)

select * from final
