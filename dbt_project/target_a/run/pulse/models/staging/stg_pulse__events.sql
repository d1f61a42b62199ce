
      
        
        
        delete from "pulse_dev_a"."staging"."stg_pulse__events" as DBT_INTERNAL_DEST
        where (event_id) in (
            select distinct event_id
            from "stg_pulse__events__dbt_tmp173415749483" as DBT_INTERNAL_SOURCE
        );

    

    insert into "pulse_dev_a"."staging"."stg_pulse__events" ("event_id", "tenant_id", "user_id", "session_id", "event_name", "event_version", "schema_version", "event_at", "event_date", "received_at", "properties", "feature_name", "user_properties", "page_url", "referrer", "device_type", "browser", "os", "utm_source", "utm_medium", "utm_campaign", "first_touch_channel", "last_touch_channel", "_batch_id", "_line_number", "_updated_at")
    (
        select "event_id", "tenant_id", "user_id", "session_id", "event_name", "event_version", "schema_version", "event_at", "event_date", "received_at", "properties", "feature_name", "user_properties", "page_url", "referrer", "device_type", "browser", "os", "utm_source", "utm_medium", "utm_campaign", "first_touch_channel", "last_touch_channel", "_batch_id", "_line_number", "_updated_at"
        from "stg_pulse__events__dbt_tmp173415749483"
    )
  