
    
    



select category
from "pulse_dev_b"."reference"."event_catalog"
where category is null


