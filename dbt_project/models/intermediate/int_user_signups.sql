{#-
  Each user's user.signed_up event, the first if there are several: when they signed up,
  how (attribution on v2 events) and the consent they gave. Users without one are dated
  by their first active event in dim_users.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['tenant_id', 'user_id'],
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['tenant_id', 'user_id'], 'unique': True}],
        post_hook="{{ analytics_consent_post_hook('signed_up_at') }}",
    )
}}
-- rows an analytics_tracking withdrawal covers are removed after each build, even when
-- the withdrawal arrived late (docs/privacy.md)
-- depends_on: {{ ref('int_user_consent_changes') }}

with

-- not materialized: read twice below, and materialized it would copy all of history
-- (docs/incremental.md)
signups as not materialized (

    select * from {{ ref('fct_events') }}
    where event_name = 'user.signed_up'

),

candidates as (

    {{ pulse_rows_touched_by_new_data('signups', ['tenant_id', 'user_id']) }}

),

first_signup as (

    select
        *,
        row_number() over (
            partition by tenant_id, user_id order by event_at, event_id
        ) as signup_rank
    from candidates

)

select
    tenant_id,
    user_id,
    event_id as signup_event_id,
    event_at as signed_up_at,
    schema_version as signup_schema_version,
    properties ->> 'signup_method' as signup_method,
    properties ->> 'invited_by' as invited_by_user_id,
    utm_source,
    utm_medium,
    utm_campaign,
    first_touch_channel,
    last_touch_channel,
    (properties -> 'consent' ->> 'ml_predictions')::boolean as consent_ml_predictions,
    (properties -> 'consent' ->> 'marketing_attribution')::boolean
        as consent_marketing_attribution,
    now() as _updated_at
from first_signup
where signup_rank = 1
