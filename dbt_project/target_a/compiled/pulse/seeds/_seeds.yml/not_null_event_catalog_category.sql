
    
    



select category
from "pulse_dev_a"."reference"."event_catalog"
where category is null


