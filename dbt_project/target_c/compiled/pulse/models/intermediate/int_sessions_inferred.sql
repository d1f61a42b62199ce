

with

events as (

    select * from "pulse_test_c"."marts"."fct_events"
    where session_id is null and is_active_event

),

touched as (

    select distinct tenant_id, user_id
    from events
    where true

),

user_events as (

    select events.*
    from events
    

),

flagged as (

    select
        *,
        case
            when lag(event_at) over by_user is null then 1
            when event_at - lag(event_at) over by_user
                > interval '30 minutes' then 1
            else 0
        end as starts_session
    from user_events
    window by_user as (partition by tenant_id, user_id order by event_at, event_id)

),

numbered as (

    select
        *,
        sum(starts_session) over (
            partition by tenant_id, user_id order by event_at, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from flagged

)

select
    md5(tenant_id || '/' || user_id || '/' || min(event_at)::text) as session_key,
    tenant_id,
    user_id,
    'inferred' as session_source,
    min(event_at) as started_at,
    max(event_at) as ended_at,
    count(*)::int as event_count,
    count(*)::int as active_event_count,
    count(distinct feature_name) filter (where event_name = 'feature.used')::int
        as distinct_features_used,
    now() as _updated_at
from numbered
group by tenant_id, user_id, session_number