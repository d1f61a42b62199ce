{#-
  One row per user, feature and UTC day on which the user used the feature
  (feature.used events, properties.feature_name). Incremental like
  fct_daily_user_activity: touched (user, day) pairs are recomputed.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['tenant_id', 'user_id', 'feature_name', 'activity_date'],
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['tenant_id', 'user_id', 'feature_name', 'activity_date'], 'unique': True},
            {'columns': ['_updated_at']},
        ],
        post_hook="{{ analytics_consent_post_hook('activity_date', is_date=true) }}",
    )
}}
-- rows an analytics_tracking withdrawal covers are removed after each build, even when
-- the withdrawal arrived late (docs/privacy.md)
-- depends_on: {{ ref('int_user_consent_changes') }}

with

-- not materialized: read twice below, and materialized it would copy all of history
-- (docs/incremental.md)
feature_events as not materialized (

    select * from {{ ref('fct_events') }}
    where event_name = 'feature.used' and feature_name is not null

),

day_events as (

    {{ pulse_rows_touched_by_new_data('feature_events', ['tenant_id', 'user_id', 'event_date'], date_column='event_date') }}

)

select
    tenant_id,
    user_id,
    feature_name,
    event_date as activity_date,
    bool_or(is_core_feature) as is_core_feature,
    count(*)::int as uses,
    min(event_at) as first_used_at,
    now() as _updated_at
from day_events
group by tenant_id, user_id, feature_name, event_date
