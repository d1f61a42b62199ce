
    
    



select tenant_id
from "pulse_dev_a"."intermediate"."int_user_feature_days"
where tenant_id is null


