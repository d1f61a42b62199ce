
      
  
    

  create  table "pulse_dev_b"."intermediate"."int_user_feature_days"
  
  
    as
  
  (
    

with

feature_events as (

    select * from "pulse_dev_b"."marts"."fct_events"
    where event_name = 'feature.used' and feature_name is not null

),

touched as (

    select distinct tenant_id, user_id, event_date
    from feature_events
    where true

),

day_events as (

    select feature_events.*
    from feature_events
    

)

select
    tenant_id,
    user_id,
    feature_name,
    event_date as activity_date,
    bool_or(is_core_feature) as is_core_feature,
    count(*)::int as uses,
    min(event_at) as first_used_at,
    now() as _updated_at
from day_events
group by tenant_id, user_id, feature_name, event_date
  );
  
  