
    
    



select event_name
from "pulse_dev_a"."reference"."event_catalog"
where event_name is null


