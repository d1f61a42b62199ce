
    
    



select tenant_id
from "pulse_dev_b"."raw"."accounts"
where tenant_id is null


