
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

select
    event_name as unique_field,
    count(*) as n_records

from "pulse_test_c"."reference"."event_catalog"
where event_name is not null
group by event_name
having count(*) > 1



  
  
      
    ) dbt_internal_test