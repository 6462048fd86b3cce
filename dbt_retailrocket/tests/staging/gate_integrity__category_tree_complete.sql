{{ config(tags=['gate_integrity']) }}

-- Every category of the raw tree is placed under a root: a category whose parent is missing,
-- or that sits on a cycle, would otherwise vanish silently from the category dimension.

with

raw_categories as (

    select * from {{ source('retailrocket_raw', 'raw_rr_category_tree') }}

),

placed_categories as (

    select * from {{ ref('stg_rr_category_dim') }}

)

select
    raw_categories.categoryid as category_id,
    raw_categories.parentid as parent_id,
    case
        when raw_categories.parentid is not null and parents.categoryid is null then 'parent not in the tree'
        else 'not reachable from a root (cycle)'
    end as problem
from raw_categories
left join placed_categories
    on raw_categories.categoryid = placed_categories.category_id
left join raw_categories as parents
    on raw_categories.parentid = parents.categoryid
where placed_categories.category_id is null
