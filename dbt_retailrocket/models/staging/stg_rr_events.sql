{{
    config(
        materialized='incremental',
        incremental_strategy='rr_replace_dates',
        unique_key='event_id',
        rr_date_column='event_date',
        indexes=rr_postgres_indexes([['event_date']]),
    )
}}

with

raw_rr_events as (

    select * from {{ source('retailrocket_raw', 'raw_rr_events') }}
    where {{ rr_epoch_ms_filter(adapter.quote('timestamp'), is_incremental()) }}

),

distinct_raw_events as (

    -- exact duplicates (all five raw fields equal) collapse into one event; how many raw
    -- rows each event stood for is kept, so the removed duplicates can be counted and reported
    select
        {{ adapter.quote('timestamp') }} as event_ts_ms,
        visitorid as visitor_id,
        event as raw_event,
        itemid as item_id,
        transactionid as transaction_id,
        count(*) as raw_row_count
    from raw_rr_events
    group by 1, 2, 3, 4, 5

),

final as (

    select
        {{ dbt_utils.generate_surrogate_key([
            'event_ts_ms', 'visitor_id', 'raw_event', 'item_id', 'transaction_id'
        ]) }} as event_id,
        visitor_id,
        item_id,
        lower(trim(raw_event)) as event_type,
        transaction_id,
        event_ts_ms,
        {{ rr_epoch_ms_to_timestamp('event_ts_ms') }} as event_at,
        {{ rr_epoch_ms_to_kst('event_ts_ms') }} as event_at_kst,
        {{ rr_epoch_ms_to_kst_date('event_ts_ms') }} as event_date,
        raw_row_count
    from distinct_raw_events

)

select * from final
