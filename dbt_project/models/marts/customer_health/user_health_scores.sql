{#-
  Rule-based health of every user with an active day, as of the last loaded day. The
  scoring (weights, thresholds, wording) is in macros/health_score.sql; this model
  gathers its inputs. Definition: doc block `health_score`.
-#}
{%- set s = health_settings() -%}
{%- set w = s.user_weights -%}
{%- set trend_days = s.trend_window_days -%}

with

user_days as (

    select * from {{ ref('fct_daily_user_activity') }}

),

feature_days as (

    select * from {{ ref('int_user_feature_days') }}

),

users as (

    select * from {{ ref('dim_users') }}

),

tenants as (

    select * from {{ ref('dim_tenants') }}

),

as_of as (

    select max(activity_date) as as_of_date from user_days

),

recent_activity as (

    select
        user_days.tenant_id,
        user_days.user_id,
        count(*) filter (
            where user_days.activity_date > as_of.as_of_date - {{ trend_days }}
        )::int as active_days_last_14,
        count(*) filter (
            where user_days.activity_date <= as_of.as_of_date - {{ trend_days }}
        )::int as active_days_prior_14
    from user_days
    cross join as_of
    where user_days.is_active
        and user_days.activity_date > as_of.as_of_date - {{ 2 * trend_days }}
    group by user_days.tenant_id, user_days.user_id

),

recent_features as (

    {{ health_features_used('feature_days', 'as_of', ['tenant_id', 'user_id']) }}

),

current_tenants as (

    select tenant_id, plan, status
    from tenants
    where is_current

),

user_inputs as (

    select
        users.tenant_id,
        users.user_id,
        current_tenants.plan as tenant_plan,
        current_tenants.status as tenant_status,
        as_of.as_of_date,
        users.last_active_date,
        (as_of.as_of_date - users.last_active_date)::int as days_since_active,
        coalesce(recent_activity.active_days_last_14, 0) as active_days_last_14,
        coalesce(recent_activity.active_days_prior_14, 0) as active_days_prior_14,
        coalesce(recent_features.features_used_last_30, 0) as features_used_last_30
    from users
    cross join as_of
    left join recent_activity
        on users.tenant_id = recent_activity.tenant_id
        and users.user_id = recent_activity.user_id
    left join recent_features
        on users.tenant_id = recent_features.tenant_id
        and users.user_id = recent_features.user_id
    left join current_tenants
        on users.tenant_id = current_tenants.tenant_id
    where users.last_active_date is not null

),

plan_breadth as (

    -- what a typical user on the plan uses: the median among users who used any feature
    select
        tenant_plan,
        {{ health_peer_breadth('features_used_last_30') }} as typical_features_used
    from user_inputs
    where features_used_last_30 > 0
    group by tenant_plan

),

points as (

    select
        user_inputs.*,
        coalesce(plan_breadth.typical_features_used, 1) as typical_features_used,
        {{ health_recency_points('user_inputs.days_since_active', w.recency) }} as recency_points,
        {{ health_trend_points('user_inputs.active_days_last_14', 'user_inputs.active_days_prior_14', w.trend) }}
            as trend_points,
        {{ health_ratio_points('user_inputs.features_used_last_30', 'coalesce(plan_breadth.typical_features_used, 1)', w.breadth) }}
            as breadth_points
    from user_inputs
    left join plan_breadth
        on user_inputs.tenant_plan is not distinct from plan_breadth.tenant_plan

),

scored as (

    select
        *,
        round(recency_points + trend_points + breadth_points)::int as health_score,
        {{ health_lowered_by([
            [health_recency_reason('days_since_active'), 'recency_points', w.recency],
            [health_trend_reason('active_days_last_14', 'active_days_prior_14'), 'trend_points', w.trend],
            [health_breadth_reason('features_used_last_30', 'typical_features_used'), 'breadth_points', w.breadth],
        ]) }} as lowered_by
    from points

)

select
    tenant_id,
    user_id,
    tenant_plan,
    tenant_status,
    as_of_date,
    last_active_date,
    days_since_active,
    active_days_last_14,
    active_days_prior_14,
    features_used_last_30,
    typical_features_used,
    round(recency_points, 1) as recency_points,
    round(trend_points, 1) as trend_points,
    round(breadth_points, 1) as breadth_points,
    health_score,
    {{ health_band('health_score') }} as health_band,
    lowered_by
from scored
