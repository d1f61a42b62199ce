
    
    



select export_date
from "pulse_dev_b"."raw"."accounts"
where export_date is null


