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
    )
}}

with

feature_events as (

    select * from {{ ref('fct_events') }}
    where event_name = 'feature.used' and feature_name is not null

),

touched as (

    select distinct tenant_id, user_id, event_date
    from feature_events
    where {{ pulse_new_rows() }}

),

day_events as (

    select feature_events.*
    from feature_events
    {% if is_incremental() %}
    inner join touched
        on feature_events.tenant_id = touched.tenant_id
        and feature_events.user_id = touched.user_id
        and feature_events.event_date = touched.event_date
    {% endif %}

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
