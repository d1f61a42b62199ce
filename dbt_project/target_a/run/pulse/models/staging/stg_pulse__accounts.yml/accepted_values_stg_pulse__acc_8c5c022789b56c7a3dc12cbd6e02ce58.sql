
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

with all_values as (

    select
        plan as value_field,
        count(*) as n_records

    from "pulse_dev_a"."staging"."stg_pulse__accounts"
    group by plan

)

select *
from all_values
where value_field not in (
    'starter','professional','enterprise'
)



  
  
      
    ) dbt_internal_test