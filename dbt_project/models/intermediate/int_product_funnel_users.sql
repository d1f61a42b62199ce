{#-
  One row per user with a signup time: when they reached each step of the adoption
  funnel, null when they did not (within the window). See the adoption_funnel doc block.

  Steps are ordered (each at or after the previous one) and each must happen before
  signup + funnel_conversion_window_days. Core-feature use comes per user, feature and
  day with the day's first use: a day counts when a core feature's first use that day
  was at or after activation.
-#}

with

users as (

    select * from {{ ref('dim_users') }}

),

feature_days as (

    select * from {{ ref('int_user_feature_days') }}

),

signed_up as (

    select
        tenant_id,
        user_id,
        signed_up_at,
        signup_month,
        activated_at,
        signed_up_at + interval '{{ var("funnel_conversion_window_days") }} days'
            as window_ends_at
    from users
    where signed_up_at is not null

),

activated as (

    select
        *,
        case
            when activated_at >= signed_up_at and activated_at < window_ends_at
                then activated_at
        end as activated_in_window_at
    from signed_up

),

core_use_days_after_activation as (

    select
        activated.tenant_id,
        activated.user_id,
        feature_days.activity_date,
        min(feature_days.first_used_at) as first_used_at
    from activated
    inner join feature_days
        on activated.tenant_id = feature_days.tenant_id
        and activated.user_id = feature_days.user_id
        and feature_days.is_core_feature
        and feature_days.first_used_at >= activated.activated_in_window_at
        -- days past the window count for no step; left out, the days read are a prefix
        -- of the user's core-use days, so the day numbers below do not change
        and feature_days.first_used_at < activated.window_ends_at
    group by activated.tenant_id, activated.user_id, feature_days.activity_date

),

numbered_core_use_days as (

    select
        *,
        row_number() over (
            partition by tenant_id, user_id order by activity_date
        ) as core_use_day_number
    from core_use_days_after_activation

),

core_use_steps as (

    select
        tenant_id,
        user_id,
        min(first_used_at) as first_core_feature_used_at,
        min(first_used_at) filter (
            where core_use_day_number = {{ var("funnel_core_feature_min_days") }}
        ) as habitual_core_use_reached_at
    from numbered_core_use_days
    group by tenant_id, user_id

),

steps as (

    select
        activated.tenant_id,
        activated.user_id,
        activated.signup_month,
        activated.signed_up_at,
        activated.window_ends_at,
        activated.activated_in_window_at as activated_at,
        case
            when core_use_steps.first_core_feature_used_at < activated.window_ends_at
                then core_use_steps.first_core_feature_used_at
        end as first_core_feature_used_at,
        case
            when core_use_steps.habitual_core_use_reached_at < activated.window_ends_at
                then core_use_steps.habitual_core_use_reached_at
        end as habitual_core_use_reached_at
    from activated
    left join core_use_steps
        on activated.tenant_id = core_use_steps.tenant_id
        and activated.user_id = core_use_steps.user_id

)

select
    tenant_id,
    user_id,
    signup_month,
    signed_up_at,
    window_ends_at,
    activated_at,
    first_core_feature_used_at,
    habitual_core_use_reached_at,
    activated_at is not null as is_activated,
    first_core_feature_used_at is not null as is_core_feature_user,
    habitual_core_use_reached_at is not null as is_habitual_core_user
from steps
