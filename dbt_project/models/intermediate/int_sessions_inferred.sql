{#-
  Sessions inferred for active events that carry no session_id: a user's consecutive
  such events belong to one session until `session_timeout_minutes` pass without one.
  Passive and server-side events (catalog counts_as_active = false) form no session.

  Incremental: every user with a new session-less active event has all their inferred
  sessions recomputed (a late event can merge two sessions), then replaced.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['tenant_id', 'user_id'],
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['tenant_id', 'session_key'], 'unique': True},
            {'columns': ['tenant_id', 'user_id']},
            {'columns': ['_updated_at']},
        ],
        post_hook="{{ analytics_consent_post_hook('started_at') }}",
    )
}}
-- rows an analytics_tracking withdrawal covers are removed after each build, even when
-- the withdrawal arrived late (docs/privacy.md)
-- depends_on: {{ ref('int_user_consent_changes') }}

with

-- not materialized: read twice below, and materialized it would copy all of history
-- (docs/incremental.md)
events as not materialized (

    select * from {{ ref('fct_events') }}
    where session_id is null and is_active_event

),

user_events as (

    {{ pulse_rows_touched_by_new_data('events', ['tenant_id', 'user_id']) }}

),

flagged as (

    select
        *,
        case
            when lag(event_at) over by_user is null then 1
            when event_at - lag(event_at) over by_user
                > interval '{{ var("session_timeout_minutes") }} minutes' then 1
            else 0
        end as starts_session
    from user_events
    window by_user as (partition by tenant_id, user_id order by event_at, event_id)

),

numbered as (

    select
        *,
        sum(starts_session) over (
            partition by tenant_id, user_id order by event_at, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from flagged

)

select
    md5(tenant_id || '/' || user_id || '/' || min(event_at)::text) as session_key,
    tenant_id,
    user_id,
    'inferred' as session_source,
    min(event_at) as started_at,
    max(event_at) as ended_at,
    count(*)::int as event_count,
    count(*)::int as active_event_count,
    count(distinct feature_name) filter (where event_name = 'feature.used')::int
        as distinct_features_used,
    now() as _updated_at
from numbered
group by tenant_id, user_id, session_number
