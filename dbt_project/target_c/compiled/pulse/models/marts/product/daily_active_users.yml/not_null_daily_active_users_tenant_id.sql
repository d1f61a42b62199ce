
    
    



select tenant_id
from "pulse_test_c"."marts"."daily_active_users"
where tenant_id is null


