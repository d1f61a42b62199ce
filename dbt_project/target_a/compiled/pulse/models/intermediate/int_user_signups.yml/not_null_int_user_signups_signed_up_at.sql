
    
    



select signed_up_at
from "pulse_dev_a"."intermediate"."int_user_signups"
where signed_up_at is null


