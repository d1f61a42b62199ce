{#-
  The adoption funnel per tenant and signup month (see the adoption_funnel doc block):
  signed up -> activated -> used a core feature -> core features on N distinct days,
  each step in order and within the conversion window. The per-user step times are in
  int_product_funnel_users.
-#}

with

funnel_users as (

    select * from {{ ref('int_product_funnel_users') }}

),

user_days as (

    select * from {{ ref('fct_daily_user_activity') }}

),

last_loaded as (

    select max(activity_date) as last_loaded_day
    from user_days

),

step_counts as (

    select
        tenant_id,
        signup_month,
        count(*)::int as signed_up_users,
        count(*) filter (where is_activated)::int as activated_users,
        count(*) filter (where is_core_feature_user)::int as core_feature_users,
        count(*) filter (where is_habitual_core_user)::int as habitual_core_users
    from funnel_users
    group by tenant_id, signup_month

)

select
    step_counts.tenant_id,
    step_counts.signup_month,
    step_counts.signed_up_users,
    step_counts.activated_users,
    step_counts.core_feature_users,
    step_counts.habitual_core_users,
    round(step_counts.activated_users::numeric / nullif(step_counts.signed_up_users, 0), 4)
        as activation_rate,
    round(step_counts.core_feature_users::numeric / nullif(step_counts.activated_users, 0), 4)
        as core_feature_rate,
    round(
        step_counts.habitual_core_users::numeric / nullif(step_counts.core_feature_users, 0), 4
    ) as habitual_core_rate,
    round(
        step_counts.habitual_core_users::numeric / nullif(step_counts.signed_up_users, 0), 4
    ) as overall_conversion_rate,
    (step_counts.signup_month + interval '1 month - 1 day')::date
        + {{ var("funnel_conversion_window_days") }} <= last_loaded.last_loaded_day
        as is_conversion_window_complete
from step_counts
cross join last_loaded
