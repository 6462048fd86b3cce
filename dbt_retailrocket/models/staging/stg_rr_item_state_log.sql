{{
    config(
        materialized='incremental',
        incremental_strategy='rr_replace_dates',
        unique_key=['item_id', 'property_name', 'known_at_ms'],
        rr_date_column='known_date',
        indexes=rr_postgres_indexes([['known_date'], ['item_id']]),
    )
}}

with

raw_rr_item_properties as (

    -- only the two readable properties; only rows logged in the run window, which never
    -- reaches past the end of the run's date (point in time)
    select * from {{ source('retailrocket_raw', 'raw_rr_item_properties') }}
    where property in ('categoryid', 'available')
        and {{ rr_epoch_ms_filter(adapter.quote('timestamp'), is_incremental()) }}

),

final as (

    select
        itemid as item_id,
        property as property_name,
        value as raw_value,
        {{ adapter.quote('timestamp') }} as known_at_ms,
        {{ rr_epoch_ms_to_kst_date(adapter.quote('timestamp')) }} as known_date,
        case
            when property = 'categoryid' then {{ rr_safe_bigint('value') }}
        end as category_id,
        case
            when property = 'available' and trim(value) = '1' then true
            when property = 'available' and trim(value) = '0' then false
        end as is_available
    from raw_rr_item_properties

)

select * from final
