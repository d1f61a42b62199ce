
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
select tenant_id, user_id, feature_name, activity_date, count(*) as copies
from "pulse_dev_a"."intermediate"."int_user_feature_days"
group by tenant_id, user_id, feature_name, activity_date
having count(*) > 1

  
  
      
    ) dbt_internal_test