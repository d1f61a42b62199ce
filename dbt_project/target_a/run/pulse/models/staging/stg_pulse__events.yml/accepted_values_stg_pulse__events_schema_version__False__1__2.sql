
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

with all_values as (

    select
        schema_version as value_field,
        count(*) as n_records

    from "pulse_dev_a"."staging"."stg_pulse__events"
    group by schema_version

)

select *
from all_values
where value_field not in (
    1,2
)



  
  
      
    ) dbt_internal_test