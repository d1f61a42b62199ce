{#-
  Each user's ML-predictions consent over time: the users export's settings, the choice
  made at signup and every user.consent_updated event (int_user_consent_changes, which
  counts consent events beyond the late-event lookback too), each valid from its UTC day
  until the day of the next one. A view: the consent events are few, and scoring asks for
  one day at a time.
-#}
{{ config(materialized='view') }}

with

-- staging-based, so a consent event beyond the late-event lookback still counts
ml_choices as (

    select * from {{ ref('int_user_consent_changes') }}
    where purpose = 'ml_predictions'

),

choices as (

    select
        tenant_id,
        user_id,
        chosen_at,
        chosen_by,
        granted as consent_ml_predictions
    from ml_choices

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
            partition by tenant_id, user_id
            order by chosen_at, {{ consent_precedence('chosen_by') }}
        ) as valid_to
    from choices

)

-- several choices on one day: the day's last one holds from that day on
select *
from dated
where valid_to is null or valid_to > valid_from
