{#- Events that arrived too late to count (see fct_events): kept visible here, with how
    late they were, so nothing disappears silently. -#}

with

staged as (

    select * from {{ ref('stg_pulse__events') }}

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
where not {{ pulse_within_lookback('received_at', 'event_date') }}
