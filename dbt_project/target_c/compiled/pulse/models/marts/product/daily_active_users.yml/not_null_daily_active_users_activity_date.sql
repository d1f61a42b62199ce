
    
    



select activity_date
from "pulse_test_c"."marts"."daily_active_users"
where activity_date is null


