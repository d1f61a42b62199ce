

with

client as (

    select * from "pulse_test_c"."intermediate"."int_sessions_client"

),

inferred as (

    select * from "pulse_test_c"."intermediate"."int_sessions_inferred"

),

unioned as (

    select * from client
    union all
    select * from inferred

)

select
    session_key,
    tenant_id,
    user_id,
    session_source,
    started_at,
    ended_at,
    (started_at at time zone 'UTC')::date as session_date,
    extract(epoch from ended_at - started_at)::int as duration_seconds,
    event_count,
    active_event_count,
    distinct_features_used
from unioned