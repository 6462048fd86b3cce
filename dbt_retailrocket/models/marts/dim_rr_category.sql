with

stg_rr_category_dim as (

    select * from {{ ref('stg_rr_category_dim') }}

),

child_counts as (

    select
        parent_id as category_id,
        count(*) as child_count
    from stg_rr_category_dim
    where parent_id is not null
    group by 1

),

final as (

    select
        stg_rr_category_dim.category_id,
        stg_rr_category_dim.parent_id,
        stg_rr_category_dim.root_category_id,
        stg_rr_category_dim.depth,
        stg_rr_category_dim.path,
        stg_rr_category_dim.parent_id is null as is_root,
        stg_rr_category_dim.is_leaf,
        coalesce(child_counts.child_count, 0) as child_count
    from stg_rr_category_dim
    left join child_counts
        on stg_rr_category_dim.category_id = child_counts.category_id

)

select * from final
