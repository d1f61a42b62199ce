
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
select tenant_id, user_id, count(*) as copies
from "pulse_dev_a"."intermediate"."int_user_signups"
group by tenant_id, user_id
having count(*) > 1

  
  
      
    ) dbt_internal_test