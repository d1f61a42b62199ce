
    
    



select tenant_id
from "pulse_dev_a"."intermediate"."int_user_signups"
where tenant_id is null


