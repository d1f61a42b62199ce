
    
    

with child as (
    select event_name as from_field
    from "pulse_test_c"."staging"."stg_pulse__events"
    where event_name is not null
),

parent as (
    select event_name as to_field
    from "pulse_test_c"."reference"."event_catalog"
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null


