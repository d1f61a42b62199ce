
      
        delete from "pulse_dev_a"."intermediate"."int_user_feature_days" as DBT_INTERNAL_DEST
        where (tenant_id, user_id, feature_name, activity_date) in (
            select distinct tenant_id, user_id, feature_name, activity_date
            from "int_user_feature_days__dbt_tmp173419639908" as DBT_INTERNAL_SOURCE
        );

    

    insert into "pulse_dev_a"."intermediate"."int_user_feature_days" ("tenant_id", "user_id", "feature_name", "activity_date", "is_core_feature", "uses", "first_used_at", "_updated_at")
    (
        select "tenant_id", "user_id", "feature_name", "activity_date", "is_core_feature", "uses", "first_used_at", "_updated_at"
        from "int_user_feature_days__dbt_tmp173419639908"
    )
  