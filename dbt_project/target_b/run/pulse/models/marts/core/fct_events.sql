
      
  
    

  create  table "pulse_dev_b"."marts"."fct_events"
  
  
    
  
  (
    event_id text not null,
    tenant_id text not null,
    user_id text not null,
    session_id text,
    event_name text not null,
    event_category text,
    is_active_event boolean,
    event_at timestamp with time zone not null,
    event_date date not null,
    received_at timestamp with time zone,
    feature_name text,
    is_core_feature boolean,
    schema_version integer,
    device_type text,
    browser text,
    os text,
    page_url text,
    utm_source text,
    utm_medium text,
    utm_campaign text,
    first_touch_channel text,
    last_touch_channel text,
    properties jsonb,
    _updated_at timestamp with time zone
    
    )
 ;
    insert into "pulse_dev_b"."marts"."fct_events" (
      event_id, tenant_id, user_id, session_id, event_name, event_category, is_active_event, event_at, event_date, received_at, feature_name, is_core_feature, schema_version, device_type, browser, os, page_url, utm_source, utm_medium, utm_campaign, first_touch_channel, last_touch_channel, properties, _updated_at
    )
  
  (
    
    select event_id, tenant_id, user_id, session_id, event_name, event_category, is_active_event, event_at, event_date, received_at, feature_name, is_core_feature, schema_version, device_type, browser, os, page_url, utm_source, utm_medium, utm_campaign, first_touch_channel, last_touch_channel, properties, _updated_at
    from (
        

with

staged as (

    select * from "pulse_dev_b"."staging"."stg_pulse__events"
    where true
        and received_at < (event_date + 1 + 7)::timestamp at time zone 'UTC'

),

event_catalog as (

    select * from "pulse_dev_b"."reference"."event_catalog"

),

feature_catalog as (

    select * from "pulse_dev_b"."reference"."feature_catalog"

),

enriched as (

    select
        staged.event_id,
        staged.tenant_id,
        staged.user_id,
        staged.session_id,
        staged.event_name,
        coalesce(event_catalog.category, 'uncatalogued') as event_category,
        coalesce(event_catalog.counts_as_active, false) as is_active_event,
        staged.event_at,
        staged.event_date,
        staged.received_at,
        staged.feature_name,
        coalesce(feature_catalog.is_core, false) as is_core_feature,
        staged.schema_version,
        staged.device_type,
        staged.browser,
        staged.os,
        staged.page_url,
        staged.utm_source,
        staged.utm_medium,
        staged.utm_campaign,
        staged.first_touch_channel,
        staged.last_touch_channel,
        staged.properties,
        now() as _updated_at
    from staged
    left join event_catalog
        on staged.event_name = event_catalog.event_name
    left join feature_catalog
        on staged.feature_name = feature_catalog.feature_name

)

select * from enriched
    ) as model_subq
  );
  
  