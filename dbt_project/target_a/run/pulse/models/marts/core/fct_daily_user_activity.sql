
      
        delete from "pulse_dev_a"."marts"."fct_daily_user_activity" as DBT_INTERNAL_DEST
        where (tenant_id, user_id, activity_date) in (
            select distinct tenant_id, user_id, activity_date
            from "fct_daily_user_activity__dbt_tmp173419628901" as DBT_INTERNAL_SOURCE
        );

    

    insert into "pulse_dev_a"."marts"."fct_daily_user_activity" ("tenant_id", "user_id", "activity_date", "is_active", "event_count", "active_event_count", "feature_use_count", "distinct_features_used", "distinct_core_features_used", "signed_up_at", "first_active_at", "first_activation_at", "first_event_at", "last_event_at", "_updated_at")
    (
        select "tenant_id", "user_id", "activity_date", "is_active", "event_count", "active_event_count", "feature_use_count", "distinct_features_used", "distinct_core_features_used", "signed_up_at", "first_active_at", "first_activation_at", "first_event_at", "last_event_at", "_updated_at"
        from "fct_daily_user_activity__dbt_tmp173419628901"
    )
  