
    
    



select event_name
from "pulse_dev_b"."reference"."event_catalog"
where event_name is null


