
    
    



select event_id
from "pulse_test_c"."raw"."events"
where event_id is null


