

with

 __dbt__cte__pulse_raw__events as (

-- Fixture for events
select 
    
    cast('e1' as text)
 as "event_id", 
    
    cast('t1' as text)
 as "tenant_id", 
    
    cast('2026-01-10 09:00:00+00' as timestamp with time zone)
 as "event_ts", 
    
    cast('2026-01-11 09:00:00+00' as timestamp with time zone)
 as "received_at", 
    
    cast(1 as bigint)
 as "batch_id", 
    
    cast(1 as integer)
 as "line_number", cast(null as timestamp with time zone) as "loaded_at", 
    
    cast('{"user_id": "late-copy", "event_name": "user.logged_in", "event_version": "1.0"}' as jsonb)
 as "payload"
union all
select 
    
    cast('e1' as text)
 as "event_id", 
    
    cast('t1' as text)
 as "tenant_id", 
    
    cast('2026-01-10 09:00:00+00' as timestamp with time zone)
 as "event_ts", 
    
    cast('2026-01-10 09:00:01+00' as timestamp with time zone)
 as "received_at", 
    
    cast(2 as bigint)
 as "batch_id", 
    
    cast(7 as integer)
 as "line_number", cast(null as timestamp with time zone) as "loaded_at", 
    
    cast('{"user_id": "first-copy", "event_name": "user.logged_in", "event_version": "1.0"}' as jsonb)
 as "payload"
union all
select 
    
    cast('e2' as text)
 as "event_id", 
    
    cast('t1' as text)
 as "tenant_id", 
    
    cast('2026-01-11 00:00:00+00' as timestamp with time zone)
 as "event_ts", 
    
    cast('2026-01-11 00:00:01+00' as timestamp with time zone)
 as "received_at", 
    
    cast(2 as bigint)
 as "batch_id", 
    
    cast(8 as integer)
 as "line_number", cast(null as timestamp with time zone) as "loaded_at", 
    
    cast('{"user_id": "u2", "event_name": "feature.used", "event_version": "2.0", "properties": {"feature_name": "dashboards"}, "attribution": {"utm_source": "google"}}' as jsonb)
 as "payload"
), new_copies as (

    select * from __dbt__cte__pulse_raw__events
    

),

candidates as (

    select
        event_id,
        tenant_id,
        event_ts,
        received_at,
        batch_id,
        line_number,
        payload,
        true as is_new
    from new_copies

    

),

ranked as (

    select
        *,
        row_number() over (
            partition by event_id
            order by received_at, batch_id, line_number
        ) as copy_rank
    from candidates

),

winners as (

    select * from ranked
    where copy_rank = 1 and is_new

),

renamed as (

    select
        event_id,
        tenant_id,
        payload ->> 'user_id' as user_id,
        payload ->> 'session_id' as session_id,
        payload ->> 'event_name' as event_name,
        payload ->> 'event_version' as event_version,
        split_part(payload ->> 'event_version', '.', 1)::int as schema_version,
        event_ts as event_at,
        (event_ts at time zone 'UTC')::date as event_date,
        received_at,

        payload -> 'properties' as properties,
        payload -> 'properties' ->> 'feature_name' as feature_name,
        payload -> 'user_properties' as user_properties,

        payload -> 'context' ->> 'page_url' as page_url,
        payload -> 'context' ->> 'referrer' as referrer,
        payload -> 'context' ->> 'device_type' as device_type,
        payload -> 'context' ->> 'browser' as browser,
        payload -> 'context' ->> 'os' as os,

        payload -> 'attribution' ->> 'utm_source' as utm_source,
        payload -> 'attribution' ->> 'utm_medium' as utm_medium,
        payload -> 'attribution' ->> 'utm_campaign' as utm_campaign,
        payload -> 'attribution' ->> 'first_touch_channel' as first_touch_channel,
        payload -> 'attribution' ->> 'last_touch_channel' as last_touch_channel,

        batch_id as _batch_id,
        line_number as _line_number,
        now() as _updated_at
    from winners

)

select * from renamed