{{
    config(
        materialized='incremental',
        incremental_strategy='rr_replace_dates',
        unique_key=['kpi_date', 'segment_name', 'visitor_id'],
        rr_date_column='kpi_date',
        indexes=rr_postgres_indexes([['kpi_date']]),
    )
}}

{#- CRM target lists per kpi_date D (docs block kpi_crm_targets). -#}

{%- set cap = var('crm_segment_cap') | int -%}
{%- set min_views = var('crm_high_intent_min_views') | int -%}

with

fact_rr_visitor_daily as (

    -- history up to the end of the window: repeat buyers look at every earlier purchase
    select * from {{ ref('fact_rr_visitor_daily') }}
    where {{ rr_date_filter('activity_date', false) }}

),

kpi_dates as (

    select distinct activity_date as kpi_date
    from fact_rr_visitor_daily
    where {{ rr_date_filter('activity_date', is_incremental()) }}

),

high_intent_candidates as (

    -- cheap pre-filter: only visitors with enough views in the whole span can reach the
    -- threshold within seven days
    select visitor_id
    from fact_rr_visitor_daily
    where activity_date >= {{ rr_add_days('(select min(kpi_date) from kpi_dates)', '-6') }}
    group by 1
    having sum(view_count) >= {{ min_views }}

),

repeat_buyer_candidates as (

    -- cheap pre-filter: visitors with two transactions in the whole built history (a superset of
    -- those with two by any date D; the rule itself is applied per date below)
    select visitor_id
    from {{ ref('dim_rr_visitor') }}
    where purchase_count >= 2

),

segment_windows as (

    -- (date, segment, visitor) with the first date of the segment's window (null = all history)
    select
        kpi_dates.kpi_date,
        'cart_abandoner_today' as segment_name,
        kpi_dates.kpi_date as window_start_date,
        fact_rr_visitor_daily.visitor_id
    from kpi_dates
    inner join fact_rr_visitor_daily
        on fact_rr_visitor_daily.activity_date = kpi_dates.kpi_date
    where fact_rr_visitor_daily.addtocart_count > 0

    union

    select
        kpi_dates.kpi_date,
        'high_intent_viewer_7d_no_cart' as segment_name,
        {{ rr_add_days('kpi_dates.kpi_date', '-6') }} as window_start_date,
        fact_rr_visitor_daily.visitor_id
    from kpi_dates
    inner join fact_rr_visitor_daily
        on fact_rr_visitor_daily.activity_date <= kpi_dates.kpi_date
        and fact_rr_visitor_daily.activity_date >= {{ rr_add_days('kpi_dates.kpi_date', '-6') }}
    inner join high_intent_candidates
        on fact_rr_visitor_daily.visitor_id = high_intent_candidates.visitor_id

    union

    select
        kpi_dates.kpi_date,
        'repeat_buyer' as segment_name,
        cast(null as date) as window_start_date,
        fact_rr_visitor_daily.visitor_id
    from kpi_dates
    inner join fact_rr_visitor_daily
        on fact_rr_visitor_daily.activity_date <= kpi_dates.kpi_date
    inner join repeat_buyer_candidates
        on fact_rr_visitor_daily.visitor_id = repeat_buyer_candidates.visitor_id
    where fact_rr_visitor_daily.transaction_count > 0

),

window_days as (

    select
        segment_windows.kpi_date,
        segment_windows.segment_name,
        segment_windows.window_start_date,
        fact_rr_visitor_daily.*
    from segment_windows
    inner join fact_rr_visitor_daily
        on segment_windows.visitor_id = fact_rr_visitor_daily.visitor_id
        and fact_rr_visitor_daily.activity_date <= segment_windows.kpi_date
        and (
            segment_windows.window_start_date is null
            or fact_rr_visitor_daily.activity_date >= segment_windows.window_start_date
        )

),

window_totals as (

    select
        kpi_date,
        segment_name,
        visitor_id,
        window_start_date,
        cast(sum(view_count) as bigint) as view_count,
        cast(sum(addtocart_count) as bigint) as addtocart_count,
        cast(sum(transaction_count) as bigint) as transaction_count,
        max(last_event_at_kst) as last_event_at_kst,
        max(last_carted_at_kst) as last_cart_at_kst,
        max(last_purchased_at_kst) as last_purchase_at_kst
    from window_days
    group by 1, 2, 3, 4

),

qualified as (

    select
        *,
        case segment_name
            when 'cart_abandoner_today' then addtocart_count
            when 'high_intent_viewer_7d_no_cart' then view_count
            else transaction_count
        end as evidence_strength
    from window_totals
    where (segment_name = 'cart_abandoner_today' and addtocart_count > 0 and transaction_count = 0)
        or (
            segment_name = 'high_intent_viewer_7d_no_cart'
            and view_count >= {{ min_views }} and addtocart_count = 0 and transaction_count = 0
        )
        or (segment_name = 'repeat_buyer' and transaction_count >= 2)

),

ranked as (

    select
        *,
        row_number() over (
            partition by kpi_date, segment_name
            order by evidence_strength desc, visitor_id asc
        ) as segment_rank,
        count(*) over (partition by kpi_date, segment_name) as segment_size_before_cap
    from qualified

),

capped as (

    select * from ranked
    where segment_rank <= {{ cap }}

),

focus_item_candidates as (

    -- the last carted item in the window, or (no cart) the last viewed one
    select
        capped.kpi_date,
        capped.segment_name,
        capped.visitor_id,
        window_days.last_carted_item_id as item_id,
        'addtocart' as item_event_type,
        window_days.last_carted_at_kst as item_event_at_kst,
        1 as preference
    from capped
    inner join window_days
        on capped.kpi_date = window_days.kpi_date
        and capped.segment_name = window_days.segment_name
        and capped.visitor_id = window_days.visitor_id
    where window_days.last_carted_item_id is not null

    union all

    select
        capped.kpi_date,
        capped.segment_name,
        capped.visitor_id,
        window_days.last_viewed_item_id as item_id,
        'view' as item_event_type,
        window_days.last_viewed_at_kst as item_event_at_kst,
        2 as preference
    from capped
    inner join window_days
        on capped.kpi_date = window_days.kpi_date
        and capped.segment_name = window_days.segment_name
        and capped.visitor_id = window_days.visitor_id
    where window_days.last_viewed_item_id is not null

),

focus_items as (

    select * from (
        select
            *,
            row_number() over (
                partition by kpi_date, segment_name, visitor_id
                order by preference asc, item_event_at_kst desc, item_id desc
            ) as focus_rank
        from focus_item_candidates
    ) as ranked_focus_items
    where focus_rank = 1

),

focus_items_with_category as (

    -- the item's root category as known at the end of kpi_date (-1: unknown)
    select
        focus_items.kpi_date,
        focus_items.segment_name,
        focus_items.visitor_id,
        focus_items.item_id,
        focus_items.item_event_type,
        focus_items.item_event_at_kst,
        {{ rr_root_category_id() }} as root_category_id
    from focus_items
    {{ rr_join_root_category_as_of('focus_items.item_id', 'focus_items.kpi_date') }}

),

final as (

    select
        capped.kpi_date,
        capped.segment_name,
        cast(capped.segment_rank as bigint) as segment_rank,
        capped.visitor_id,
        capped.window_start_date,
        capped.kpi_date as window_end_date,
        capped.view_count,
        capped.addtocart_count,
        capped.transaction_count,
        capped.last_event_at_kst,
        -- the original project's evidence: the last add-to-cart of D (cart abandoners), the
        -- last purchase up to D (repeat buyers)
        case
            when capped.segment_name = 'cart_abandoner_today' then capped.last_cart_at_kst
        end as last_cart_at_kst,
        case
            when capped.segment_name = 'repeat_buyer' then capped.last_purchase_at_kst
        end as last_purchase_at_kst,
        focus.item_id as focus_item_id,
        focus.item_event_type as focus_item_event_type,
        focus.root_category_id as focus_item_root_category_id,
        capped.evidence_strength,
        cast(capped.segment_size_before_cap as bigint) as segment_size_before_cap,
        case capped.segment_name
            when 'cart_abandoner_today' then
                cast(capped.addtocart_count as {{ dbt.type_string() }}) || ' add-to-cart(s) and '
                || cast(capped.view_count as {{ dbt.type_string() }}) || ' view(s) on '
                || cast(capped.kpi_date as {{ dbt.type_string() }}) || ', no purchase'
            when 'high_intent_viewer_7d_no_cart' then
                cast(capped.view_count as {{ dbt.type_string() }}) || ' views from '
                || cast(capped.window_start_date as {{ dbt.type_string() }}) || ' to '
                || cast(capped.kpi_date as {{ dbt.type_string() }}) || ', no add-to-cart, no purchase'
            else
                cast(capped.transaction_count as {{ dbt.type_string() }}) || ' purchases up to '
                || cast(capped.kpi_date as {{ dbt.type_string() }})
        end
        || coalesce(
            '; last ' || case focus.item_event_type when 'addtocart' then 'carted' else 'viewed' end
            || ' item ' || cast(focus.item_id as {{ dbt.type_string() }})
            || ' (root category '
            || case
                when focus.root_category_id = {{ rr_unknown_root_category_id() }} then 'unknown'
                else cast(focus.root_category_id as {{ dbt.type_string() }})
            end
            || ') at ' || {{ rr_format_timestamp('focus.item_event_at_kst') }} || ' KST',
            ''
        ) as evidence
    from capped
    left join focus_items_with_category as focus
        on capped.kpi_date = focus.kpi_date
        and capped.segment_name = focus.segment_name
        and capped.visitor_id = focus.visitor_id

)

select * from final
