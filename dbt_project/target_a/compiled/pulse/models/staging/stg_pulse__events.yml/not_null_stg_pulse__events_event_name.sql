
    
    



select event_name
from "pulse_dev_a"."staging"."stg_pulse__events"
where event_name is null


