
    
    



select tenant_id
from "pulse_dev_b"."raw"."events"
where tenant_id is null


