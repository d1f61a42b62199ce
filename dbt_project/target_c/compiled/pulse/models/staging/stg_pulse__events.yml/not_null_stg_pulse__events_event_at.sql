
    
    



select event_at
from "pulse_test_c"."staging"."stg_pulse__events"
where event_at is null


