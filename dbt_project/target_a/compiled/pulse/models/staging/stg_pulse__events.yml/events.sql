
-- Fixture for events
select 
    
    cast('staged_first' as text)
 as "event_id", 
    
    cast('t1' as text)
 as "tenant_id", 
    
    cast('2026-01-10 09:00:00+00' as timestamp with time zone)
 as "event_ts", 
    
    cast('2026-01-11 09:00:00+00' as timestamp with time zone)
 as "received_at", 
    
    cast(6 as bigint)
 as "batch_id", 
    
    cast(1 as integer)
 as "line_number", cast(null as timestamp with time zone) as "loaded_at", 
    
    cast('{"user_id": "u1", "event_name": "user.logged_in", "event_version": "1.0"}' as jsonb)
 as "payload"
union all
select 
    
    cast('staged_later' as text)
 as "event_id", 
    
    cast('t1' as text)
 as "tenant_id", 
    
    cast('2026-01-10 09:00:00+00' as timestamp with time zone)
 as "event_ts", 
    
    cast('2026-01-10 09:30:00+00' as timestamp with time zone)
 as "received_at", 
    
    cast(6 as bigint)
 as "batch_id", 
    
    cast(2 as integer)
 as "line_number", cast(null as timestamp with time zone) as "loaded_at", 
    
    cast('{"user_id": "u1", "event_name": "user.logged_in", "event_version": "1.0"}' as jsonb)
 as "payload"
union all
select 
    
    cast('old_batch' as text)
 as "event_id", 
    
    cast('t1' as text)
 as "tenant_id", 
    
    cast('2026-01-09 09:00:00+00' as timestamp with time zone)
 as "event_ts", 
    
    cast('2026-01-09 09:30:00+00' as timestamp with time zone)
 as "received_at", 
    
    cast(4 as bigint)
 as "batch_id", 
    
    cast(2 as integer)
 as "line_number", cast(null as timestamp with time zone) as "loaded_at", 
    
    cast('{"user_id": "u1", "event_name": "user.logged_in", "event_version": "1.0"}' as jsonb)
 as "payload"