{#-
    An item's root category as known at the end of an Asia/Seoul date: the one rule behind the
    category funnel and the CRM evidence (docs block rr_unknown_category).

    rr_join_root_category_as_of(item_id, on_date) renders the joins; rr_root_category_id() the
    column: the root of the item's category in the state valid at the end of on_date, or -1
    when it is unknown (no property logged by then, only availability, or a category outside
    the tree).
-#}

{% macro rr_join_root_category_as_of(item_id, on_date) -%}
    left join {{ ref('stg_rr_item_state_history') }} as item_state_as_of
        on {{ item_id }} = item_state_as_of.item_id
        and {{ on_date }} >= item_state_as_of.valid_from_date
        and (item_state_as_of.valid_to_date is null or {{ on_date }} <= item_state_as_of.valid_to_date)
    left join {{ ref('dim_rr_category') }} as item_category_as_of
        on item_state_as_of.category_id = item_category_as_of.category_id
{%- endmacro %}


{% macro rr_root_category_id() -%}
    coalesce(item_category_as_of.root_category_id, {{ rr_unknown_root_category_id() }})
{%- endmacro %}


{% macro rr_unknown_root_category_id() -%}-1{%- endmacro %}
