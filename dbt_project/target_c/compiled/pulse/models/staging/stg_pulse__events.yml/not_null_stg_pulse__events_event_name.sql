
    
    



select event_name
from "pulse_test_c"."staging"."stg_pulse__events"
where event_name is null


