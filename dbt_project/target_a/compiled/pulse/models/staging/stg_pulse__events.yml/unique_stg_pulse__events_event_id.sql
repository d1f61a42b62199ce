
    
    

select
    event_id as unique_field,
    count(*) as n_records

from "pulse_dev_a"."staging"."stg_pulse__events"
where event_id is not null
group by event_id
having count(*) > 1


