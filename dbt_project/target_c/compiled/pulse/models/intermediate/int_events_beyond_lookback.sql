with

staged as (

    select * from "pulse_test_c"."staging"."stg_pulse__events"

)

select
    event_id,
    tenant_id,
    user_id,
    event_name,
    event_at,
    event_date,
    received_at,
    received_at - event_at as arrived_after,
    _batch_id
from staged
where not received_at < (event_date + 1 + 7)::timestamp at time zone 'UTC'