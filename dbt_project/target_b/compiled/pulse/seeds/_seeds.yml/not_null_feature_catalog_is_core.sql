
    
    



select is_core
from "pulse_dev_b"."reference"."feature_catalog"
where is_core is null


