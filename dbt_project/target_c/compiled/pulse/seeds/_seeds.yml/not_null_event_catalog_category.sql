
    
    



select category
from "pulse_test_c"."reference"."event_catalog"
where category is null


