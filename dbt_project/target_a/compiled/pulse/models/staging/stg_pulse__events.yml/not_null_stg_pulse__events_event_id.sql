
    
    



select event_id
from "pulse_dev_a"."staging"."stg_pulse__events"
where event_id is null


