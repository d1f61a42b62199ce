
      
  
    

  create  table "pulse_test_c"."intermediate"."int_sessions_client__dbt_tmp"
  
  
    as
  
  (
    

with

events as (

    select * from "pulse_test_c"."marts"."fct_events"
    where session_id is not null

),

touched as (

    select distinct session_id
    from events
    where true

),

session_events as (

    select events.*
    from events
    

)

select
    session_id as session_key,
    min(tenant_id) as tenant_id,
    min(user_id) as user_id,
    'client' as session_source,
    min(event_at) as started_at,
    max(event_at) as ended_at,
    count(*)::int as event_count,
    count(*) filter (where is_active_event)::int as active_event_count,
    count(distinct feature_name) filter (where event_name = 'feature.used')::int
        as distinct_features_used,
    now() as _updated_at
from session_events
group by session_id
  );
  
  