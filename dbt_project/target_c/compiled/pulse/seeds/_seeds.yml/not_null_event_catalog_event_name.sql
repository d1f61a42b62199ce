
    
    



select event_name
from "pulse_test_c"."reference"."event_catalog"
where event_name is null


