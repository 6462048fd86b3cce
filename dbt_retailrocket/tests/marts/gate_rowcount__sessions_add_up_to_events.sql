{{ config(tags=['gate_rowcount']) }}

-- Per date of the run window: the sessions' event counts add up to the event fact, and there
-- is one session row per distinct session id of the events.

with

from_events as (

    select
        event_date,
        count(*) as events,
        count(distinct session_id) as sessions
    from {{ ref('fact_rr_events') }}
    where {{ rr_date_filter('event_date', true) }}
    group by 1

),

from_sessions as (

    select
        session_date as event_date,
        sum(event_count) as events,
        count(*) as sessions
    from {{ ref('fact_rr_sessions') }}
    where {{ rr_date_filter('session_date', true) }}
    group by 1

)

select
    coalesce(from_events.event_date, from_sessions.event_date) as event_date,
    from_events.events as events_in_event_fact,
    from_sessions.events as events_in_session_fact,
    from_events.sessions as sessions_in_event_fact,
    from_sessions.sessions as sessions_in_session_fact
from from_events
full outer join from_sessions
    on from_events.event_date = from_sessions.event_date
where from_events.event_date is null
    or from_sessions.event_date is null
    or from_events.events <> from_sessions.events
    or from_events.sessions <> from_sessions.sessions
