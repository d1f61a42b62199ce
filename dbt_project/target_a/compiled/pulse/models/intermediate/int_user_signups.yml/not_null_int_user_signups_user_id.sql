
    
    



select user_id
from "pulse_dev_a"."intermediate"."int_user_signups"
where user_id is null


