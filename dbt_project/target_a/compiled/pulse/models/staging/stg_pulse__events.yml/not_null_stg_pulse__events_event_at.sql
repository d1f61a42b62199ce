
    
    



select event_at
from "pulse_dev_a"."staging"."stg_pulse__events"
where event_at is null


