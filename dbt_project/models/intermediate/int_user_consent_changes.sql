{#-
  Every consent choice of every user, one row per purpose (docs/privacy.md,
  data_processing_consent flags: analytics_tracking, behavioral_analysis,
  marketing_attribution, ml_predictions): the choice at signup and each
  user.consent_updated event, each valid until the next choice for the same purpose.

  Read from staging, not fct_events: a consent event counts even when it arrived after
  the late-event lookback (docs/privacy.md). A view: consent events are few.
-#}
{{ config(materialized='view') }}

with

consent_events as (

    select * from {{ ref('stg_pulse__events') }}
    where event_name in ('user.signed_up', 'user.consent_updated')
        and jsonb_typeof(properties -> 'consent') = 'object'

),

choices as (

    select
        consent_events.tenant_id,
        consent_events.user_id,
        consent_events.event_id,
        consent_events.event_at as chosen_at,
        case consent_events.event_name
            when 'user.signed_up' then 'signup' else 'consent_updated'
        end as chosen_by,
        flags.key as purpose,
        (flags.value #>> '{}')::boolean as granted
    from consent_events
    cross join lateral jsonb_each(consent_events.properties -> 'consent') as flags
    where jsonb_typeof(flags.value) = 'boolean'

)

select
    tenant_id,
    user_id,
    purpose,
    granted,
    chosen_at,
    chosen_by,
    event_id,
    lead(chosen_at) over (
        partition by tenant_id, user_id, purpose order by chosen_at, chosen_by desc, event_id
    ) as valid_until
from choices
