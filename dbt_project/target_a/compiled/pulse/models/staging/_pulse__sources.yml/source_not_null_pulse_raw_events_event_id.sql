
    
    



select event_id
from "pulse_dev_a"."raw"."events"
where event_id is null


