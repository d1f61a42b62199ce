
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select export_date
from "pulse_dev_a"."staging"."stg_pulse__accounts"
where export_date is null



  
  
      
    ) dbt_internal_test