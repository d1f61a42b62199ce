
    
    



select activity_date
from "pulse_dev_a"."intermediate"."int_user_feature_days"
where activity_date is null


