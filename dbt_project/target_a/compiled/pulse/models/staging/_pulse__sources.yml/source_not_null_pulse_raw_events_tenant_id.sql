
    
    



select tenant_id
from "pulse_dev_a"."raw"."events"
where tenant_id is null


