
    
    



select event_id
from "pulse_dev_b"."raw"."events"
where event_id is null


