{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='visitor_id',
        indexes=rr_postgres_indexes([['visitor_id'], ['purchase_count']]),
    )
}}

{#- Every visitor of the built event history, with totals over all built dates. Incremental by
    visitor: a run recomputes the visitors active in its window (from all their days) and
    replaces their rows, so the cost follows the day, not the history. -#}

with

fact_rr_visitor_daily as (

    select * from {{ ref('fact_rr_visitor_daily') }}
    {%- if is_incremental() %}
    where visitor_id in (
        select visitor_id from {{ ref('fact_rr_visitor_daily') }}
        where {{ rr_date_filter('activity_date', true) }}
    )
    {%- endif %}

),

visitor_totals as (

    select
        visitor_id,
        min(first_event_at_kst) as first_event_at_kst,
        max(last_event_at_kst) as last_event_at_kst,
        min(activity_date) as first_event_date,
        max(activity_date) as last_event_date,
        min(case when transaction_count > 0 then activity_date end) as first_purchase_date,
        count(*) as active_days,
        sum(event_count) as event_count,
        sum(session_count) as session_count,
        sum(view_count) as view_count,
        sum(addtocart_count) as addtocart_count,
        sum(transaction_count) as purchase_count
    from fact_rr_visitor_daily
    group by 1

),

final as (

    select
        visitor_id,
        first_event_at_kst,
        last_event_at_kst,
        first_event_date,
        last_event_date,
        first_purchase_date,
        first_purchase_date is not null as is_buyer,
        cast(active_days as bigint) as active_days,
        cast(event_count as bigint) as event_count,
        cast(session_count as bigint) as session_count,
        cast(view_count as bigint) as view_count,
        cast(addtocart_count as bigint) as addtocart_count,
        cast(purchase_count as bigint) as purchase_count
    from visitor_totals

)

select * from final
