
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select signed_up_at
from "pulse_dev_a"."intermediate"."int_user_signups"
where signed_up_at is null



  
  
      
    ) dbt_internal_test