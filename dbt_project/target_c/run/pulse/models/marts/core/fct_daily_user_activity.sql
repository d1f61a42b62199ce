
      
  
    

  create  table "pulse_test_c"."marts"."fct_daily_user_activity__dbt_tmp"
  
  
    as
  
  (
    

with

events as (

    select * from "pulse_test_c"."marts"."fct_events"

),

touched as (

    select distinct tenant_id, user_id, event_date
    from events
    where true

),

day_events as (

    select events.*
    from events
    

),

daily as (

    select
        tenant_id,
        user_id,
        event_date as activity_date,
        bool_or(is_active_event) as is_active,
        count(*)::int as event_count,
        count(*) filter (where is_active_event)::int as active_event_count,
        count(*) filter (where event_name = 'feature.used')::int as feature_use_count,
        count(distinct feature_name) filter (where event_name = 'feature.used')::int
            as distinct_features_used,
        count(distinct feature_name)
            filter (where event_name = 'feature.used' and is_core_feature)::int
            as distinct_core_features_used,
        min(event_at) filter (where event_name = 'user.signed_up') as signed_up_at,
        min(event_at) filter (where is_active_event) as first_active_at,
        min(event_at) filter (where event_category = 'activation') as first_activation_at,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        now() as _updated_at
    from day_events
    group by tenant_id, user_id, event_date

)

select * from daily
  );
  
  