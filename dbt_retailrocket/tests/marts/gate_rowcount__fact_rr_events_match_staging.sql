{{ config(tags=['gate_rowcount']) }}

-- The event fact holds exactly the staged events of every date of the run window.

with

staged as (

    select
        event_date,
        count(*) as staged_events
    from {{ ref('stg_rr_events') }}
    where {{ rr_date_filter('event_date', true) }}
    group by 1

),

facts as (

    select
        event_date,
        count(*) as fact_events
    from {{ ref('fact_rr_events') }}
    where {{ rr_date_filter('event_date', true) }}
    group by 1

)

select
    coalesce(staged.event_date, facts.event_date) as event_date,
    staged.staged_events,
    facts.fact_events
from staged
full outer join facts
    on staged.event_date = facts.event_date
where staged.staged_events is null
    or facts.fact_events is null
    or staged.staged_events <> facts.fact_events
