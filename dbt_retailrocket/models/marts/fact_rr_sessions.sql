{{
    config(
        materialized='incremental',
        incremental_strategy='rr_replace_dates',
        unique_key='session_id',
        rr_date_column='session_date',
        indexes=rr_postgres_indexes([['session_date'], ['session_id']]),
    )
}}

with

fact_rr_events as (

    select * from {{ ref('fact_rr_events') }}
    where {{ rr_date_filter('event_date', is_incremental()) }}

),

sessions as (

    select
        session_id,
        visitor_id,
        event_date as session_date,
        min(event_at_kst) as session_start_at_kst,
        max(event_at_kst) as session_end_at_kst,
        min(event_ts_ms) as session_start_ts_ms,
        max(event_ts_ms) as session_end_ts_ms,
        count(*) as event_count,
        {{ rr_count_views() }} as view_count,
        {{ rr_count_addtocarts() }} as addtocart_count,
        {{ rr_count_purchases() }} as transaction_count
    from fact_rr_events
    group by 1, 2, 3

),

final as (

    select
        session_id,
        visitor_id,
        session_date,
        cast(
            {{ dbt.split_part('session_id', "'-'", 3) }} as integer
        ) as session_number,
        session_start_at_kst,
        session_end_at_kst,
        cast(floor((session_end_ts_ms - session_start_ts_ms) / 1000.0) as bigint) as duration_seconds,
        event_count,
        view_count,
        addtocart_count,
        transaction_count,
        view_count > 0 as has_view,
        addtocart_count > 0 as has_cart,
        transaction_count > 0 as has_purchase
    from sessions

)

select * from final
