
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select event_at
from "pulse_test_c"."staging"."stg_pulse__events"
where event_at is null



  
  
      
    ) dbt_internal_test