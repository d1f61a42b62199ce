{#-
  Every consent choice of every user, one row per purpose (the data_processing_consent
  flags: analytics_tracking, behavioral_analysis, marketing_attribution, ml_predictions):
  the settings in the application's users export, the choice at signup and each
  user.consent_updated event, each valid until the next choice for the same purpose.

  The users export is the authoritative source (docs/privacy.md "Consent"): it covers
  users who signed up before the data began, and at the same instant it wins over an
  event. Events still count, so a choice the export has not listed yet applies at once.
  Read from staging, not fct_events: a consent event counts even when it arrived after
  the late-event lookback.
  A table, though consent choices are few: six consent post-hooks, the consent periods and
  this model's tests read it every night, and as a view each of those reads scanned every
  staged event again (about 0.45 s each on the peer data set at day 180, docs/incremental.md).
-#}
{{ config(materialized='table', indexes=[{'columns': ['tenant_id', 'user_id']}]) }}

{#- The consent events are a few thousand rows scattered through all of staging: read as
    a bitmap heap scan, their pages are fetched in order and prefetched
    (effective_io_concurrency); the index scan the planner picks from its guess of the
    jsonb filter reads them one at a time (cold, 2.25 s against 0.51 s on the xl month;
    docs/incremental.md, "Reads that wait on the disk"). -#}
{% call set_sql_header(config) %}
set local enable_indexscan = off;
{%- endcall %}

with

consent_events as (

    select * from {{ ref('stg_pulse__events') }}
    where event_name in ('user.signed_up', 'user.consent_updated')
        and jsonb_typeof(properties -> 'consent') = 'object'

),

event_choices as (

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

),

users_export as (

    select * from {{ ref('stg_pulse__users') }}

),

-- one row per purpose; a state the export repeats (same time, same flag) is one choice
export_choices as (

    select distinct
        users_export.tenant_id,
        users_export.user_id,
        null::text as event_id,
        users_export.consent_updated_at as chosen_at,
        'users_export' as chosen_by,
        flags.purpose,
        flags.granted
    from users_export
    cross join lateral (
        values
            ('analytics_tracking', users_export.consent_analytics_tracking),
            ('behavioral_analysis', users_export.consent_behavioral_analysis),
            ('marketing_attribution', users_export.consent_marketing_attribution),
            ('ml_predictions', users_export.consent_ml_predictions)
    ) as flags (purpose, granted)

),

choices as (

    select * from event_choices
    union all
    select * from export_choices

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
        partition by tenant_id, user_id, purpose
        order by chosen_at, {{ consent_precedence('chosen_by') }}, event_id
    ) as valid_until
from choices
