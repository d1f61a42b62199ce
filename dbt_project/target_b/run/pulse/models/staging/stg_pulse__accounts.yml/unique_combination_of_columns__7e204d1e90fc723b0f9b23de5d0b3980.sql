
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
select tenant_id, export_date, count(*) as copies
from "pulse_dev_b"."staging"."stg_pulse__accounts"
group by tenant_id, export_date
having count(*) > 1

  
  
      
    ) dbt_internal_test