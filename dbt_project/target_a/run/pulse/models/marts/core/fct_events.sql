
      
        
        
        delete from "pulse_dev_a"."marts"."fct_events" as DBT_INTERNAL_DEST
        where (event_id) in (
            select distinct event_id
            from "fct_events__dbt_tmp173418258636" as DBT_INTERNAL_SOURCE
        );

    

    insert into "pulse_dev_a"."marts"."fct_events" ("event_id", "tenant_id", "user_id", "session_id", "event_name", "event_category", "is_active_event", "event_at", "event_date", "received_at", "feature_name", "is_core_feature", "schema_version", "device_type", "browser", "os", "page_url", "utm_source", "utm_medium", "utm_campaign", "first_touch_channel", "last_touch_channel", "properties", "_updated_at")
    (
        select "event_id", "tenant_id", "user_id", "session_id", "event_name", "event_category", "is_active_event", "event_at", "event_date", "received_at", "feature_name", "is_core_feature", "schema_version", "device_type", "browser", "os", "page_url", "utm_source", "utm_medium", "utm_campaign", "first_touch_channel", "last_touch_channel", "properties", "_updated_at"
        from "fct_events__dbt_tmp173418258636"
    )
  