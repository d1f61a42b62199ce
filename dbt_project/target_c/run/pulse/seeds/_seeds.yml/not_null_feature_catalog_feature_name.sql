
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select feature_name
from "pulse_test_c"."reference"."feature_catalog"
where feature_name is null



  
  
      
    ) dbt_internal_test