
-- Fixture for fct_events
select 
    
    cast('old' as text)
 as "event_id", cast(null as text) as "tenant_id", cast(null as text) as "user_id", cast(null as text) as "session_id", cast(null as text) as "event_name", cast(null as text) as "event_category", cast(null as boolean) as "is_active_event", cast(null as timestamp with time zone) as "event_at", cast(null as date) as "event_date", cast(null as timestamp with time zone) as "received_at", cast(null as text) as "feature_name", cast(null as boolean) as "is_core_feature", cast(null as integer) as "schema_version", cast(null as text) as "device_type", cast(null as text) as "browser", cast(null as text) as "os", cast(null as text) as "page_url", cast(null as text) as "utm_source", cast(null as text) as "utm_medium", cast(null as text) as "utm_campaign", cast(null as text) as "first_touch_channel", cast(null as text) as "last_touch_channel", cast(null as jsonb) as "properties", 
    
    cast('2026-01-14 02:00:00+00' as timestamp with time zone)
 as "_updated_at"