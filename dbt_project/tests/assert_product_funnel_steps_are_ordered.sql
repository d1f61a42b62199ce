{#- Funnel steps are nested and ordered: each user's step times are in order and
    within the window, and per signup month each step has no more users than the one
    before. Returns the offending rows. -#}

with

funnel_users as (

    select * from {{ ref('int_product_funnel_users') }}

),

funnel as (

    select * from {{ ref('adoption_funnel') }}

)

select
    tenant_id,
    user_id,
    signup_month,
    'user steps out of order or outside the window' as problem
from funnel_users
where activated_at < signed_up_at
    or first_core_feature_used_at < activated_at
    or habitual_core_use_reached_at < first_core_feature_used_at
    or greatest(activated_at, first_core_feature_used_at, habitual_core_use_reached_at)
        >= window_ends_at
    or (first_core_feature_used_at is not null and activated_at is null)
    or (habitual_core_use_reached_at is not null and first_core_feature_used_at is null)

union all

select
    tenant_id,
    null,
    signup_month,
    'a step has more users than the step before'
from funnel
where activated_users > signed_up_users
    or core_feature_users > activated_users
    or habitual_core_users > core_feature_users
