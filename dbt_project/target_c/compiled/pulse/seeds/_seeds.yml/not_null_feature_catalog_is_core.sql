
    
    



select is_core
from "pulse_test_c"."reference"."feature_catalog"
where is_core is null


