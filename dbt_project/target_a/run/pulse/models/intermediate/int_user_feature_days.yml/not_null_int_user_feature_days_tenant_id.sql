
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select tenant_id
from "pulse_dev_a"."intermediate"."int_user_feature_days"
where tenant_id is null



  
  
      
    ) dbt_internal_test