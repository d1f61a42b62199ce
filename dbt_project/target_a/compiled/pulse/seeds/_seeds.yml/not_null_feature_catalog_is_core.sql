
    
    



select is_core
from "pulse_dev_a"."reference"."feature_catalog"
where is_core is null


