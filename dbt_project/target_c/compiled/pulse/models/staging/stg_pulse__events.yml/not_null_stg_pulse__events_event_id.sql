
    
    



select event_id
from "pulse_test_c"."staging"."stg_pulse__events"
where event_id is null


