
    
    

with all_values as (

    select
        event_category as value_field,
        count(*) as n_records

    from "pulse_dev_a"."marts"."fct_events"
    group by event_category

)

select *
from all_values
where value_field not in (
    'acquisition','activation','engagement','collaboration','support','billing','privacy','integration','uncatalogued'
)


