
    
    



select feature_name
from "pulse_test_c"."reference"."feature_catalog"
where feature_name is null


