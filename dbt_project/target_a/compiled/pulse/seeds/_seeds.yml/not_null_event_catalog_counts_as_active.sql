
    
    



select counts_as_active
from "pulse_dev_a"."reference"."event_catalog"
where counts_as_active is null


