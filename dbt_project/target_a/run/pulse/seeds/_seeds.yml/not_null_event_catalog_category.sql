
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select category
from "pulse_dev_a"."reference"."event_catalog"
where category is null



  
  
      
    ) dbt_internal_test