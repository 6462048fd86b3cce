{{ config(tags=['gate_kpi_range']) }}

-- The daily funnel recounted straight from the event fact, without the session fact or the
-- funnel macro: every count and rate must agree for every date of the run window.

with

events as (

    select * from {{ ref('fact_rr_events') }}
    where {{ rr_date_filter('event_date', true) }}

),

session_flags as (

    select
        event_date,
        session_id,
        max(case when event_type = 'view' then 1 else 0 end) as has_view,
        max(case when event_type = 'addtocart' then 1 else 0 end) as has_cart,
        max(case when event_type = 'transaction' then 1 else 0 end) as has_purchase
    from events
    group by 1, 2

),

recount as (

    select
        event_date as kpi_date,
        count(*) as sessions,
        sum(has_view) as sessions_with_view,
        sum(has_cart) as sessions_with_cart,
        sum(has_purchase) as sessions_with_purchase,
        sum(has_view * has_cart) as sessions_with_view_and_cart,
        sum(has_cart * has_purchase) as sessions_with_cart_and_purchase
    from session_flags
    group by 1

),

event_recount as (

    select
        event_date as kpi_date,
        count(distinct visitor_id) as visitors,
        sum(case when event_type = 'view' then 1 else 0 end) as views,
        sum(case when event_type = 'addtocart' then 1 else 0 end) as addtocarts,
        count(distinct case when event_type = 'transaction' then transaction_id end) as purchases
    from events
    group by 1

),

funnel as (

    select * from {{ ref('mart_rr_funnel_daily') }}
    where {{ rr_date_filter('kpi_date', true) }}

),

compared as (

    select
        coalesce(funnel.kpi_date, recount.kpi_date) as kpi_date,
        funnel.sessions as funnel_sessions,
        recount.sessions as recounted_sessions,
        funnel.cvr_session_to_purchase,
        -- a table of checks, one per line, wider than the usual limit
        -- noqa: disable=LT05
        case
            when funnel.kpi_date is null or recount.kpi_date is null or event_recount.kpi_date is null then 'date missing on one side'
            when funnel.visitors <> event_recount.visitors then 'visitors'
            when funnel.views <> event_recount.views then 'views'
            when funnel.addtocarts <> event_recount.addtocarts then 'addtocarts'
            when funnel.purchases <> event_recount.purchases then 'purchases'
            when funnel.sessions <> recount.sessions then 'sessions'
            when funnel.sessions_with_view <> recount.sessions_with_view then 'sessions_with_view'
            when funnel.sessions_with_cart <> recount.sessions_with_cart then 'sessions_with_cart'
            when funnel.sessions_with_purchase <> recount.sessions_with_purchase then 'sessions_with_purchase'
            when funnel.sessions_with_view_and_cart <> recount.sessions_with_view_and_cart then 'sessions_with_view_and_cart'
            when funnel.sessions_with_cart_and_purchase <> recount.sessions_with_cart_and_purchase then 'sessions_with_cart_and_purchase'
            when {{ rr_rate_differs('funnel.cvr_session_to_purchase', 'recount.sessions_with_purchase', 'recount.sessions') }} then 'cvr_session_to_purchase'
            when {{ rr_rate_differs('funnel.cvr_view_to_cart', 'recount.sessions_with_view_and_cart', 'recount.sessions_with_view') }} then 'cvr_view_to_cart'
            when {{ rr_rate_differs('funnel.cvr_cart_to_purchase', 'recount.sessions_with_cart_and_purchase', 'recount.sessions_with_cart') }} then 'cvr_cart_to_purchase'
        end as first_mismatch
        -- noqa: enable=LT05
    from funnel
    full outer join recount
        on funnel.kpi_date = recount.kpi_date
    left join event_recount
        on coalesce(funnel.kpi_date, recount.kpi_date) = event_recount.kpi_date

)

select * from compared
where first_mismatch is not null
