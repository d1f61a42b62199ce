
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select is_core
from "pulse_dev_a"."reference"."feature_catalog"
where is_core is null



  
  
      
    ) dbt_internal_test