
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select activity_date
from "pulse_test_c"."marts"."daily_active_users"
where activity_date is null



  
  
      
    ) dbt_internal_test