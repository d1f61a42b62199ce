
    
    



select user_id
from "pulse_dev_a"."staging"."stg_pulse__events"
where user_id is null


