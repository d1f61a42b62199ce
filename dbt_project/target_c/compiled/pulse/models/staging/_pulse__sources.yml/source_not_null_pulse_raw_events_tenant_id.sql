
    
    



select tenant_id
from "pulse_test_c"."raw"."events"
where tenant_id is null


