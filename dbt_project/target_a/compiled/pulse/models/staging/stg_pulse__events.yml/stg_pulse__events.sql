
-- Fixture for stg_pulse__events
select 
    
    cast('staged_first' as text)
 as "event_id", 
    
    cast('t1' as text)
 as "tenant_id", cast(null as text) as "user_id", cast(null as text) as "session_id", cast(null as text) as "event_name", cast(null as text) as "event_version", cast(null as integer) as "schema_version", 
    
    cast('2026-01-10 09:00:00+00' as timestamp with time zone)
 as "event_at", cast(null as date) as "event_date", 
    
    cast('2026-01-10 09:00:01+00' as timestamp with time zone)
 as "received_at", cast(null as jsonb) as "properties", cast(null as text) as "feature_name", cast(null as jsonb) as "user_properties", cast(null as text) as "page_url", cast(null as text) as "referrer", cast(null as text) as "device_type", cast(null as text) as "browser", cast(null as text) as "os", cast(null as text) as "utm_source", cast(null as text) as "utm_medium", cast(null as text) as "utm_campaign", cast(null as text) as "first_touch_channel", cast(null as text) as "last_touch_channel", 
    
    cast(5 as bigint)
 as "_batch_id", 
    
    cast(1 as integer)
 as "_line_number", cast(null as timestamp with time zone) as "_updated_at"
union all
select 
    
    cast('staged_later' as text)
 as "event_id", 
    
    cast('t1' as text)
 as "tenant_id", cast(null as text) as "user_id", cast(null as text) as "session_id", cast(null as text) as "event_name", cast(null as text) as "event_version", cast(null as integer) as "schema_version", 
    
    cast('2026-01-10 09:00:00+00' as timestamp with time zone)
 as "event_at", cast(null as date) as "event_date", 
    
    cast('2026-01-10 12:00:00+00' as timestamp with time zone)
 as "received_at", cast(null as jsonb) as "properties", cast(null as text) as "feature_name", cast(null as jsonb) as "user_properties", cast(null as text) as "page_url", cast(null as text) as "referrer", cast(null as text) as "device_type", cast(null as text) as "browser", cast(null as text) as "os", cast(null as text) as "utm_source", cast(null as text) as "utm_medium", cast(null as text) as "utm_campaign", cast(null as text) as "first_touch_channel", cast(null as text) as "last_touch_channel", 
    
    cast(5 as bigint)
 as "_batch_id", 
    
    cast(2 as integer)
 as "_line_number", cast(null as timestamp with time zone) as "_updated_at"