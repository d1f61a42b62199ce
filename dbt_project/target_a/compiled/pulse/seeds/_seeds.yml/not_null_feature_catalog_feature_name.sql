
    
    



select feature_name
from "pulse_dev_a"."reference"."feature_catalog"
where feature_name is null


