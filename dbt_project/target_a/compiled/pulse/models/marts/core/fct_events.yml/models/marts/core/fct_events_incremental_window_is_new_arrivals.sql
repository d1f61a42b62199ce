

with

 __dbt__cte__fct_events as (

-- Fixture for fct_events
select 
    
    cast('old' as text)
 as "event_id", cast(null as text) as "tenant_id", cast(null as text) as "user_id", cast(null as text) as "session_id", cast(null as text) as "event_name", cast(null as text) as "event_category", cast(null as boolean) as "is_active_event", cast(null as timestamp with time zone) as "event_at", cast(null as date) as "event_date", cast(null as timestamp with time zone) as "received_at", cast(null as text) as "feature_name", cast(null as boolean) as "is_core_feature", cast(null as integer) as "schema_version", cast(null as text) as "device_type", cast(null as text) as "browser", cast(null as text) as "os", cast(null as text) as "page_url", cast(null as text) as "utm_source", cast(null as text) as "utm_medium", cast(null as text) as "utm_campaign", cast(null as text) as "first_touch_channel", cast(null as text) as "last_touch_channel", cast(null as jsonb) as "properties", 
    
    cast('2026-01-14 02:00:00+00' as timestamp with time zone)
 as "_updated_at"
),  __dbt__cte__stg_pulse__events as (

-- Fixture for stg_pulse__events
select 
    
    cast('old' as text)
 as "event_id", 
    
    cast('t1' as text)
 as "tenant_id", 
    
    cast('u1' as text)
 as "user_id", cast(null as text) as "session_id", 
    
    cast('user.logged_in' as text)
 as "event_name", cast(null as text) as "event_version", cast(null as integer) as "schema_version", 
    
    cast('2026-01-13 10:00:00+00' as timestamp with time zone)
 as "event_at", 
    
    cast('2026-01-13' as date)
 as "event_date", 
    
    cast('2026-01-13 10:00:01+00' as timestamp with time zone)
 as "received_at", cast(null as jsonb) as "properties", cast(null as text) as "feature_name", cast(null as jsonb) as "user_properties", cast(null as text) as "page_url", cast(null as text) as "referrer", cast(null as text) as "device_type", cast(null as text) as "browser", cast(null as text) as "os", cast(null as text) as "utm_source", cast(null as text) as "utm_medium", cast(null as text) as "utm_campaign", cast(null as text) as "first_touch_channel", cast(null as text) as "last_touch_channel", cast(null as bigint) as "_batch_id", cast(null as integer) as "_line_number", 
    
    cast('2026-01-14 02:00:00+00' as timestamp with time zone)
 as "_updated_at"
union all
select 
    
    cast('new_today' as text)
 as "event_id", 
    
    cast('t1' as text)
 as "tenant_id", 
    
    cast('u1' as text)
 as "user_id", cast(null as text) as "session_id", 
    
    cast('user.logged_in' as text)
 as "event_name", cast(null as text) as "event_version", cast(null as integer) as "schema_version", 
    
    cast('2026-01-14 10:00:00+00' as timestamp with time zone)
 as "event_at", 
    
    cast('2026-01-14' as date)
 as "event_date", 
    
    cast('2026-01-14 10:00:01+00' as timestamp with time zone)
 as "received_at", cast(null as jsonb) as "properties", cast(null as text) as "feature_name", cast(null as jsonb) as "user_properties", cast(null as text) as "page_url", cast(null as text) as "referrer", cast(null as text) as "device_type", cast(null as text) as "browser", cast(null as text) as "os", cast(null as text) as "utm_source", cast(null as text) as "utm_medium", cast(null as text) as "utm_campaign", cast(null as text) as "first_touch_channel", cast(null as text) as "last_touch_channel", cast(null as bigint) as "_batch_id", cast(null as integer) as "_line_number", 
    
    cast('2026-01-15 02:00:00+00' as timestamp with time zone)
 as "_updated_at"
union all
select 
    
    cast('new_but_late' as text)
 as "event_id", 
    
    cast('t1' as text)
 as "tenant_id", 
    
    cast('u2' as text)
 as "user_id", cast(null as text) as "session_id", 
    
    cast('feature.used' as text)
 as "event_name", cast(null as text) as "event_version", cast(null as integer) as "schema_version", 
    
    cast('2026-01-08 23:59:59+00' as timestamp with time zone)
 as "event_at", 
    
    cast('2026-01-08' as date)
 as "event_date", 
    
    cast('2026-01-14 08:00:00+00' as timestamp with time zone)
 as "received_at", cast(null as jsonb) as "properties", 
    
    cast('dashboards' as text)
 as "feature_name", cast(null as jsonb) as "user_properties", cast(null as text) as "page_url", cast(null as text) as "referrer", cast(null as text) as "device_type", cast(null as text) as "browser", cast(null as text) as "os", cast(null as text) as "utm_source", cast(null as text) as "utm_medium", cast(null as text) as "utm_campaign", cast(null as text) as "first_touch_channel", cast(null as text) as "last_touch_channel", cast(null as bigint) as "_batch_id", cast(null as integer) as "_line_number", 
    
    cast('2026-01-15 02:00:00+00' as timestamp with time zone)
 as "_updated_at"
),  __dbt__cte__event_catalog as (

-- Fixture for event_catalog
select 
    
    cast('user.logged_in' as text)
 as "event_name", 
    
    cast('engagement' as text)
 as "category", 
    
    cast(True as boolean)
 as "counts_as_active", cast(null as text) as "description"
union all
select 
    
    cast('feature.used' as text)
 as "event_name", 
    
    cast('engagement' as text)
 as "category", 
    
    cast(True as boolean)
 as "counts_as_active", cast(null as text) as "description"
),  __dbt__cte__feature_catalog as (

-- Fixture for feature_catalog
select 
    
    cast('dashboards' as text)
 as "feature_name", cast(null as text) as "category", 
    
    cast(True as boolean)
 as "is_core", cast(null as text) as "description"
), staged as (

    select * from __dbt__cte__stg_pulse__events
    where _updated_at > (select coalesce(max(_updated_at), '-infinity'::timestamptz) from __dbt__cte__fct_events)
        and received_at < (event_date + 1 + 7)::timestamp at time zone 'UTC'

),

event_catalog as (

    select * from __dbt__cte__event_catalog

),

feature_catalog as (

    select * from __dbt__cte__feature_catalog

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