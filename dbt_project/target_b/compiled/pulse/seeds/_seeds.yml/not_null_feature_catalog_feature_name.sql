
    
    



select feature_name
from "pulse_dev_b"."reference"."feature_catalog"
where feature_name is null


