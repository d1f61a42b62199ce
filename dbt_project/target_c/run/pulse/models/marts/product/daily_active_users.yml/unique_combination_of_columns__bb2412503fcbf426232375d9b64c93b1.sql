
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
select tenant_id, activity_date, count(*) as copies
from "pulse_test_c"."marts"."daily_active_users"
group by tenant_id, activity_date
having count(*) > 1

  
  
      
    ) dbt_internal_test