{#- One row per user and feature they have used: when they first used it. Feeds
    cumulative adoption and time to adopt (feature_adoption_monthly, which takes the
    signup day from dim_users), and the ML snapshots' features used to date.
    A table: feature_adoption_monthly, the ML adoption snapshots and this model's tests
    each aggregated every feature-day again through the view (docs/incremental.md).
    Read from int_user_feature_days alone, not dim_users: dim_users is built from
    fct_daily_user_activity, and waiting for it put this model, and the ML snapshots
    after it, 2 s later on the night's longest chain of models (docs/scale-out.md). -#}
{{ config(materialized='table',
          indexes=[{'columns': ['tenant_id', 'user_id', 'feature_name'], 'unique': True}]) }}

with

feature_days as (

    select * from {{ ref('int_user_feature_days') }}

),

first_use as (

    select
        tenant_id,
        user_id,
        feature_name,
        min(first_used_at) as first_used_at,
        min(activity_date) as first_used_date
    from feature_days
    group by tenant_id, user_id, feature_name

)

select
    tenant_id,
    user_id,
    feature_name,
    first_used_at,
    first_used_date,
    date_trunc('month', first_used_date)::date as first_used_month
from first_use
