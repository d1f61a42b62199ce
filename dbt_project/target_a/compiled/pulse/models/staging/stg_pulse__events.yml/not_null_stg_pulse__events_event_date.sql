
    
    



select event_date
from "pulse_dev_a"."staging"."stg_pulse__events"
where event_date is null


