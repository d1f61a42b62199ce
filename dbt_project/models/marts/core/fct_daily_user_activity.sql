{#-
  One row per user and UTC day with at least one event: whether the user was active
  (an event the catalog marks counts_as_active) and what they did.

  Incremental: the (user, day) pairs that new events touch are recomputed from all of
  that day's events and upserted.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['tenant_id', 'user_id', 'activity_date'],
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['tenant_id', 'user_id', 'activity_date'], 'unique': True},
            {'columns': ['_updated_at']},
            {'columns': ['tenant_id', 'activity_date']},
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
events as not materialized (

    select * from {{ ref('fct_events') }}

),

day_events as (

    {{ pulse_rows_touched_by_new_data('events', ['tenant_id', 'user_id', 'event_date'], date_column='event_date') }}

),

daily as (

    select
        tenant_id,
        user_id,
        event_date as activity_date,
        bool_or(is_active_event) as is_active,
        count(*)::int as event_count,
        count(*) filter (where is_active_event)::int as active_event_count,
        count(*) filter (where event_name = 'feature.used')::int as feature_use_count,
        count(distinct feature_name) filter (where event_name = 'feature.used')::int
            as distinct_features_used,
        count(distinct feature_name)
            filter (where event_name = 'feature.used' and is_core_feature)::int
            as distinct_core_features_used,
        min(event_at) filter (where event_name = 'user.signed_up') as signed_up_at,
        min(event_at) filter (where is_active_event) as first_active_at,
        min(event_at) filter (where event_category = 'activation') as first_activation_at,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        now() as _updated_at
    from day_events
    group by tenant_id, user_id, event_date

)

select * from daily
