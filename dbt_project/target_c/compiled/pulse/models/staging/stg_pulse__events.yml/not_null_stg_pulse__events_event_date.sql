
    
    



select event_date
from "pulse_test_c"."staging"."stg_pulse__events"
where event_date is null


