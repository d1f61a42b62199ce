
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select tenant_id
from "pulse_test_c"."staging"."stg_pulse__events"
where tenant_id is null



  
  
      
    ) dbt_internal_test