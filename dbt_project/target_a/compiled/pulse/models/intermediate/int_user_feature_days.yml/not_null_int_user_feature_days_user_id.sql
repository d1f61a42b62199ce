
    
    



select user_id
from "pulse_dev_a"."intermediate"."int_user_feature_days"
where user_id is null


