{#-
    The funnel, defined once (docs blocks kpi_*), used by mart_rr_funnel_daily and
    mart_rr_funnel_category_daily. Renders three CTEs for a WITH clause:
      funnel_event_counts, funnel_session_counts, funnel
    `events` is a CTE with the grain columns, visitor_id, event_type, transaction_id;
    `sessions` is a CTE with the grain columns and the booleans has_view, has_cart, has_purchase.
-#}
{% macro rr_funnel_ctes(grain, events, sessions) -%}
{%- set grain_csv = grain | join(', ') -%}
{%- set group_by = range(1, grain | length + 1) | join(', ') -%}
funnel_event_counts as (

    select
        {{ grain_csv }},
        count(distinct visitor_id) as visitors,
        {{ rr_count_views() }} as views,
        {{ rr_count_addtocarts() }} as addtocarts,
        {{ rr_count_purchases() }} as purchases
    from {{ events }}
    group by {{ group_by }}

),

funnel_session_counts as (

    select
        {{ grain_csv }},
        count(*) as sessions,
        count(case when has_view then 1 end) as sessions_with_view,
        count(case when has_cart then 1 end) as sessions_with_cart,
        count(case when has_purchase then 1 end) as sessions_with_purchase,
        count(case when has_view and has_cart then 1 end) as sessions_with_view_and_cart,
        count(case when has_cart and has_purchase then 1 end) as sessions_with_cart_and_purchase
    from {{ sessions }}
    group by {{ group_by }}

),

funnel as (

    select
        {%- for column in grain %}
        funnel_event_counts.{{ column }},
        {%- endfor %}
        funnel_event_counts.visitors,
        funnel_session_counts.sessions,
        funnel_event_counts.views,
        funnel_event_counts.addtocarts,
        funnel_event_counts.purchases,
        funnel_session_counts.sessions_with_view,
        funnel_session_counts.sessions_with_cart,
        funnel_session_counts.sessions_with_purchase,
        funnel_session_counts.sessions_with_view_and_cart,
        funnel_session_counts.sessions_with_cart_and_purchase,
        {{ rr_ratio('funnel_session_counts.sessions_with_purchase', 'funnel_session_counts.sessions') }} as cvr_session_to_purchase,
        {{ rr_ratio('funnel_session_counts.sessions_with_view_and_cart', 'funnel_session_counts.sessions_with_view') }} as cvr_view_to_cart,
        {{ rr_ratio('funnel_session_counts.sessions_with_cart_and_purchase', 'funnel_session_counts.sessions_with_cart') }} as cvr_cart_to_purchase
    from funnel_event_counts
    inner join funnel_session_counts
        on {% for column in grain -%}
        funnel_event_counts.{{ column }} = funnel_session_counts.{{ column }}
        {%- if not loop.last %}
        and {% endif -%}
        {%- endfor %}

)
{%- endmacro %}


{#- The event counts behind every view, add-to-cart and purchase figure (docs blocks kpi_views,
    kpi_addtocarts, kpi_purchases), aggregated over rows with event_type and transaction_id:
    sessions, visitor-days and the funnels all count the same way. -#}

{% macro rr_count_views() -%}
    count(case when event_type = 'view' then 1 end)
{%- endmacro %}

{% macro rr_count_addtocarts() -%}
    count(case when event_type = 'addtocart' then 1 end)
{%- endmacro %}

{% macro rr_count_purchases() -%}
    count(distinct case when event_type = 'transaction' then transaction_id end)
{%- endmacro %}
