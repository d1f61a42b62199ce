
    
    



select tenant_id
from "pulse_dev_b"."staging"."stg_pulse__accounts"
where tenant_id is null


