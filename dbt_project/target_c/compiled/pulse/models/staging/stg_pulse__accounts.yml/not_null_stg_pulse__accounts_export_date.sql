
    
    



select export_date
from "pulse_test_c"."staging"."stg_pulse__accounts"
where export_date is null


