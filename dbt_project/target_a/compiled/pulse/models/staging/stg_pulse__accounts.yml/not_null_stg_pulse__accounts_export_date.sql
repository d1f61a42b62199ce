
    
    



select export_date
from "pulse_dev_a"."staging"."stg_pulse__accounts"
where export_date is null


