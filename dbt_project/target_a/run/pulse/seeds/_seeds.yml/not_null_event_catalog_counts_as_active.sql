
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select counts_as_active
from "pulse_dev_a"."reference"."event_catalog"
where counts_as_active is null



  
  
      
    ) dbt_internal_test