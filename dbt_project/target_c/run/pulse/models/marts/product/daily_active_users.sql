
  create view "pulse_test_c"."marts"."daily_active_users__dbt_tmp"
    
    
      
  as (
    

with

tenant_days as (

    select * from "pulse_test_c"."marts"."fct_daily_tenant_activity"

)

select
    tenant_id,
    activity_date,
    dau as active_users,
    wau as weekly_active_users,
    mau as monthly_active_users,
    stickiness
from tenant_days
where dau > 0
  );