{{ config(tags=['gate_rowcount']) }}

-- Staging equals raw minus exact duplicates, per Asia/Seoul date of the run window: the raw
-- rows are recounted here from the source, independently of the staging model.

with

raw_per_date as (

    select
        event_date,
        count(*) as raw_rows,
        count(distinct_key) as raw_distinct_rows
    from (
        select
            {{ rr_epoch_ms_to_kst_date(adapter.quote('timestamp')) }} as event_date,
            case
                when row_number() over (
                        partition by {{ adapter.quote('timestamp') }}, visitorid, event, itemid, transactionid
                        order by {{ adapter.quote('timestamp') }}
                    ) = 1
                then 1
            end as distinct_key
        from {{ source('retailrocket_raw', 'raw_rr_events') }}
        where {{ rr_epoch_ms_filter(adapter.quote('timestamp'), true) }}
    ) as raw_events
    group by 1

),

staging_per_date as (

    select
        event_date,
        count(*) as staged_events,
        sum(raw_row_count) as staged_raw_rows
    from {{ ref('stg_rr_events') }}
    where {{ rr_date_filter('event_date', true) }}
    group by 1

)

select
    coalesce(raw_per_date.event_date, staging_per_date.event_date) as event_date,
    raw_per_date.raw_rows,
    raw_per_date.raw_distinct_rows,
    raw_per_date.raw_rows - raw_per_date.raw_distinct_rows as raw_exact_duplicates,
    staging_per_date.staged_events,
    staging_per_date.staged_raw_rows
from raw_per_date
full outer join staging_per_date
    on raw_per_date.event_date = staging_per_date.event_date
where raw_per_date.event_date is null
    or staging_per_date.event_date is null
    or staging_per_date.staged_events <> raw_per_date.raw_distinct_rows
    or staging_per_date.staged_raw_rows <> raw_per_date.raw_rows
