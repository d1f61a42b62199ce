
    
    



select user_id
from "pulse_test_c"."staging"."stg_pulse__events"
where user_id is null


