
      
        delete from "pulse_dev_a"."intermediate"."int_user_signups" as DBT_INTERNAL_DEST
        where (tenant_id, user_id) in (
            select distinct tenant_id, user_id
            from "int_user_signups__dbt_tmp173419633208" as DBT_INTERNAL_SOURCE
        );

    

    insert into "pulse_dev_a"."intermediate"."int_user_signups" ("tenant_id", "user_id", "signup_event_id", "signed_up_at", "signup_schema_version", "signup_method", "invited_by_user_id", "utm_source", "utm_medium", "utm_campaign", "first_touch_channel", "last_touch_channel", "consent_ml_predictions", "consent_marketing_attribution", "_updated_at")
    (
        select "tenant_id", "user_id", "signup_event_id", "signed_up_at", "signup_schema_version", "signup_method", "invited_by_user_id", "utm_source", "utm_medium", "utm_campaign", "first_touch_channel", "last_touch_channel", "consent_ml_predictions", "consent_marketing_attribution", "_updated_at"
        from "int_user_signups__dbt_tmp173419633208"
    )
  