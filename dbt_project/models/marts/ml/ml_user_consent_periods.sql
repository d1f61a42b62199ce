{#-
  Each user's ML-predictions consent over time (seed 000's privacy controls): the choice
  made at signup, then every user.consent_updated event, each valid from its UTC day
  until the day of the next one. A view: the consent events are few, and scoring asks for
  one day at a time.
-#}
{{ config(materialized='view') }}

with

signups as (

    select * from {{ ref('int_user_signups') }}

),

consent_updates as (

    select * from {{ ref('fct_events') }}
    where event_name = 'user.consent_updated'

),

choices as (

    select
        tenant_id,
        user_id,
        signed_up_at as chosen_at,
        'signup' as chosen_by,
        consent_ml_predictions
    from signups
    where consent_ml_predictions is not null

    union all

    select
        tenant_id,
        user_id,
        event_at as chosen_at,
        'consent_updated' as chosen_by,
        (properties -> 'consent' ->> 'ml_predictions')::boolean as consent_ml_predictions
    from consent_updates
    where properties -> 'consent' ->> 'ml_predictions' is not null

),

dated as (

    select
        tenant_id,
        user_id,
        chosen_at,
        chosen_by,
        consent_ml_predictions,
        (chosen_at at time zone 'UTC')::date as valid_from,
        lead((chosen_at at time zone 'UTC')::date) over (
            partition by tenant_id, user_id order by chosen_at, chosen_by desc
        ) as valid_to
    from choices

)

-- several choices on one day: the day's last one holds from that day on
select *
from dated
where valid_to is null or valid_to > valid_from
