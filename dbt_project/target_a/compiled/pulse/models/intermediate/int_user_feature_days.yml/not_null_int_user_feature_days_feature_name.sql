
    
    



select feature_name
from "pulse_dev_a"."intermediate"."int_user_feature_days"
where feature_name is null


