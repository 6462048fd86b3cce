with recursive

raw_rr_category_tree as (

    select * from {{ source('retailrocket_raw', 'raw_rr_category_tree') }}

),

category_tree as (

    -- roots: categories without a parent
    select
        categoryid as category_id,
        parentid as parent_id,
        categoryid as root_category_id,
        0 as depth,
        cast(categoryid as {{ dbt.type_string() }}) as path
    from raw_rr_category_tree
    where parentid is null

    union all

    -- children of categories already placed; the depth bound stops a cycle in bad input
    -- (categories on a cycle or under a missing parent are then absent, which the
    -- gate_integrity and gate_rowcount tests on this model report)
    select
        child.categoryid as category_id,
        child.parentid as parent_id,
        parent.root_category_id,
        parent.depth + 1 as depth,
        cast(
            parent.path || '/' || cast(child.categoryid as {{ dbt.type_string() }}) as {{ dbt.type_string() }}
        ) as path
    from raw_rr_category_tree as child
    inner join category_tree as parent
        on child.parentid = parent.category_id
    where parent.depth < 64

),

final as (

    select
        category_tree.category_id,
        category_tree.parent_id,
        category_tree.root_category_id,
        category_tree.depth,
        category_tree.path,
        not exists (
            select 1
            from raw_rr_category_tree as child
            where child.parentid = category_tree.category_id
        ) as is_leaf
    from category_tree

)

select * from final
