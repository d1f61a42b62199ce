
    
    

select
    feature_name as unique_field,
    count(*) as n_records

from "pulse_test_c"."reference"."feature_catalog"
where feature_name is not null
group by feature_name
having count(*) > 1


