
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

with all_values as (

    select
        reason_code as value_field,
        count(*) as n_records

    from "pulse_test_c"."raw"."rejected_events"
    group by reason_code

)

select *
from all_values
where value_field not in (
    'malformed_json','invalid_utf8','unsupported_character','not_an_object','missing_field','wrong_type','bad_timestamp','unknown_version','unknown_tenant'
)



  
  
      
    ) dbt_internal_test