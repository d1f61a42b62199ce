
    
    



select export_date
from "pulse_test_c"."raw"."accounts"
where export_date is null


