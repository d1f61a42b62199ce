
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

with child as (
    select event_name as from_field
    from "pulse_dev_a"."staging"."stg_pulse__events"
    where event_name is not null
),

parent as (
    select event_name as to_field
    from "pulse_dev_a"."reference"."event_catalog"
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null



  
  
      
    ) dbt_internal_test