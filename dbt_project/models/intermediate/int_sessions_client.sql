{#-
  Sessions the client identified (events carrying a session_id), one row per session.
  Incremental: sessions that received new events are recomputed from all their events.
-#}
{{
    config(
        materialized='incremental',
        unique_key='session_key',
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['tenant_id', 'session_key'], 'unique': True},
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
    where session_id is not null

),

session_events as (

    {{ pulse_rows_touched_by_new_data('events', ['session_id'], probe_each_key=true) }}

)

select
    session_id as session_key,
    min(tenant_id) as tenant_id,
    min(user_id) as user_id,
    'client' as session_source,
    min(event_at) as started_at,
    max(event_at) as ended_at,
    count(*)::int as event_count,
    count(*) filter (where is_active_event)::int as active_event_count,
    count(distinct feature_name) filter (where event_name = 'feature.used')::int
        as distinct_features_used,
    now() as _updated_at
from session_events
group by session_id
