
    
    



select export_date
from "pulse_dev_a"."raw"."accounts"
where export_date is null


