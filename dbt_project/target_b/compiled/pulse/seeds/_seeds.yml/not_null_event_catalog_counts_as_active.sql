
    
    



select counts_as_active
from "pulse_dev_b"."reference"."event_catalog"
where counts_as_active is null


