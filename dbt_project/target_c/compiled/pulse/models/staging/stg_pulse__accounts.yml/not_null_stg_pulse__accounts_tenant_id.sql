
    
    



select tenant_id
from "pulse_test_c"."staging"."stg_pulse__accounts"
where tenant_id is null


