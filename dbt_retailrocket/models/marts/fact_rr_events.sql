{{
    config(
        materialized='incremental',
        incremental_strategy='rr_replace_dates',
        unique_key='event_id',
        rr_date_column='event_date',
        indexes=rr_postgres_indexes([['event_date'], ['item_id']]),
    )
}}

{#- Sessionization: the session rule is documented once, in docs block `rr_session_rule`. -#}

with

stg_rr_events as (

    select * from {{ ref('stg_rr_events') }}
    where {{ rr_date_filter('event_date', is_incremental()) }}

),

events_with_gap as (

    -- the window is the visitor's Asia/Seoul day, so a change of date always starts a session;
    -- events with equal timestamps have a gap of 0 to each other, so they never split
    select
        *,
        event_ts_ms - lag(event_ts_ms) over (
            partition by visitor_id, event_date
            order by event_ts_ms
        ) as gap_to_previous_ms
    from stg_rr_events

),

session_starts as (

    select
        *,
        case
            when gap_to_previous_ms is null then 1
            when gap_to_previous_ms > {{ rr_session_gap_ms() }} then 1
            else 0
        end as is_session_start
    from events_with_gap

),

numbered_sessions as (

    -- a RANGE frame sums over all peers (equal timestamps) at once, so the events of one
    -- millisecond get the same number whatever order the engine visits them in
    select
        *,
        sum(is_session_start) over (
            partition by visitor_id, event_date
            order by event_ts_ms
            range between unbounded preceding and current row
        ) as session_number
    from session_starts

),

final as (

    select
        event_id,
        visitor_id,
        item_id,
        event_type,
        transaction_id,
        event_ts_ms,
        event_at,
        event_at_kst,
        event_date,
        raw_row_count,
        cast(visitor_id as {{ dbt.type_string() }})
        || '-' || {{ rr_format_date_compact('event_date') }}
        || '-' || cast(cast(session_number as bigint) as {{ dbt.type_string() }}) as session_id
    from numbered_sessions

)

select * from final
