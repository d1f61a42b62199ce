
    
    



select tenant_id
from "pulse_test_c"."raw"."accounts"
where tenant_id is null


