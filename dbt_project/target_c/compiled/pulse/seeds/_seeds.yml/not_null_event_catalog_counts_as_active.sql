
    
    



select counts_as_active
from "pulse_test_c"."reference"."event_catalog"
where counts_as_active is null


