{#- One row per user and feature they have used: when they first used it, and how many
    days after their signup day that was. Feeds cumulative adoption and time to adopt.
    A table: feature_adoption_monthly, the ML adoption snapshots and this model's tests
    each aggregated every feature-day again through the view (docs/incremental.md). -#}
{{ config(materialized='table',
          indexes=[{'columns': ['tenant_id', 'user_id', 'feature_name'], 'unique': True}]) }}

with

feature_days as (

    select * from {{ ref('int_user_feature_days') }}

),

users as (

    select * from {{ ref('dim_users') }}

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
    first_use.tenant_id,
    first_use.user_id,
    first_use.feature_name,
    first_use.first_used_at,
    first_use.first_used_date,
    date_trunc('month', first_use.first_used_date)::date as first_used_month,
    users.signup_date,
    first_use.first_used_date - users.signup_date as days_from_signup_to_first_use
from first_use
left join users
    on first_use.tenant_id = users.tenant_id
    and first_use.user_id = users.user_id
