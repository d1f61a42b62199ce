

with

 __dbt__cte__stg_pulse__events as (

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
),  __dbt__cte__pulse_raw__events as (

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
), new_copies as (

    select * from __dbt__cte__pulse_raw__events
    
    where batch_id > (select coalesce(max(_batch_id), 0) from __dbt__cte__stg_pulse__events)
    

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

    
    union all

    select
        staged.event_id,
        staged.tenant_id,
        staged.event_at,
        staged.received_at,
        staged._batch_id,
        staged._line_number,
        null::jsonb,
        false
    from __dbt__cte__stg_pulse__events as staged
    where staged.event_id in (select event_id from new_copies)
    

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