
    
    



select tenant_id
from "pulse_dev_a"."raw"."accounts"
where tenant_id is null


