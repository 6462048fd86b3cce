with

raw_rr_item_properties as (

    -- only the two readable properties; only rows known by the end of the run's date
    select * from {{ source('retailrocket_raw', 'raw_rr_item_properties') }}
    where property in ('categoryid', 'available')
        and {{ rr_known_by_end_of_run_filter('"timestamp"') }}

),

final as (

    select
        itemid as item_id,
        property as property_name,
        value as raw_value,
        "timestamp" as known_at_ms,
        {{ rr_epoch_ms_to_kst_date('"timestamp"') }} as known_date,
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
