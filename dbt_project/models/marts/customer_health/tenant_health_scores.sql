{#-
  Rule-based health of every tenant, as of the last loaded day: the user formulas applied
  to the tenant as a whole, plus seat utilization and the share of healthy users. The
  scoring is in macros/health_score.sql; definition: doc block `health_score`.
-#}
{%- set s = health_settings() -%}
{%- set w = s.tenant_weights -%}
{%- set trend_days = s.trend_window_days -%}

with

user_scores as (

    select * from {{ ref('user_health_scores') }}

),

tenant_days as (

    select * from {{ ref('fct_daily_tenant_activity') }}

),

feature_days as (

    select * from {{ ref('int_user_feature_days') }}

),

tenants as (

    select * from {{ ref('dim_tenants') }}

),

as_of as (

    select max(as_of_date) as as_of_date from user_scores

),

recent_activity as (

    select
        tenant_days.tenant_id,
        sum(tenant_days.dau) filter (
            where tenant_days.activity_date > as_of.as_of_date - {{ trend_days }}
        )::int as active_user_days_last_14,
        sum(tenant_days.dau) filter (
            where tenant_days.activity_date <= as_of.as_of_date - {{ trend_days }}
        )::int as active_user_days_prior_14,
        max(tenant_days.mau) filter (where tenant_days.activity_date = as_of.as_of_date) as mau,
        max(tenant_days.licensed_seats) filter (where tenant_days.activity_date = as_of.as_of_date)
            as licensed_seats
    from tenant_days
    cross join as_of
    where tenant_days.activity_date > as_of.as_of_date - {{ 2 * trend_days }}
        and tenant_days.activity_date <= as_of.as_of_date
    group by tenant_days.tenant_id

),

recent_features as (

    {{ health_features_used('feature_days', 'as_of', ['tenant_id']) }}

),

user_health as (

    select
        user_scores.tenant_id,
        max(user_scores.last_active_date) as last_active_date,
        count(*) filter (
            where user_scores.days_since_active < {{ s.breadth_window_days }}
        )::int as users_active_last_30,
        count(*) filter (
            where user_scores.days_since_active < {{ s.breadth_window_days }}
                and user_scores.health_band = 'healthy'
        )::int as healthy_users,
        count(*) filter (
            where user_scores.days_since_active < {{ s.breadth_window_days }}
                and user_scores.health_band = 'at_risk'
        )::int as at_risk_users
    from user_scores
    group by user_scores.tenant_id

),

tenant_inputs as (

    select
        tenants.tenant_id,
        tenants.tenant_name,
        tenants.plan,
        tenants.status,
        as_of.as_of_date,
        user_health.last_active_date,
        (as_of.as_of_date - user_health.last_active_date)::int as days_since_active,
        coalesce(recent_activity.active_user_days_last_14, 0) as active_user_days_last_14,
        coalesce(recent_activity.active_user_days_prior_14, 0) as active_user_days_prior_14,
        coalesce(recent_features.features_used_last_30, 0) as features_used_last_30,
        coalesce(recent_activity.mau, 0) as mau,
        coalesce(recent_activity.licensed_seats, tenants.licensed_seats) as licensed_seats,
        coalesce(user_health.users_active_last_30, 0) as users_active_last_30,
        coalesce(user_health.healthy_users, 0) as healthy_users,
        coalesce(user_health.at_risk_users, 0) as at_risk_users
    from tenants
    cross join as_of
    left join recent_activity
        on tenants.tenant_id = recent_activity.tenant_id
    left join recent_features
        on tenants.tenant_id = recent_features.tenant_id
    left join user_health
        on tenants.tenant_id = user_health.tenant_id
    where tenants.is_current

),

plan_breadth as (

    -- what a typical tenant on the plan uses: the median among tenants that used any feature
    select
        plan,
        {{ health_peer_breadth('features_used_last_30') }} as typical_features_used
    from tenant_inputs
    where features_used_last_30 > 0
    group by plan

),

ratios as (

    select
        tenant_inputs.*,
        coalesce(plan_breadth.typical_features_used, 1) as typical_features_used,
        least(1, tenant_inputs.mau::numeric / nullif(tenant_inputs.licensed_seats, 0))
            as seat_utilization,
        tenant_inputs.healthy_users::numeric / nullif(tenant_inputs.users_active_last_30, 0)
            as share_of_users_healthy,
        tenant_inputs.at_risk_users::numeric / nullif(tenant_inputs.users_active_last_30, 0)
            as share_of_users_at_risk
    from tenant_inputs
    left join plan_breadth
        on tenant_inputs.plan = plan_breadth.plan

),

points as (

    select
        *,
        {{ health_recency_points('days_since_active', w.recency) }} as recency_points,
        {{ health_trend_points('active_user_days_last_14', 'active_user_days_prior_14', w.trend) }}
            as trend_points,
        {{ health_ratio_points('features_used_last_30', 'typical_features_used', w.breadth) }}
            as breadth_points,
        {{ health_ratio_points('seat_utilization', 1, w.seats) }} as seat_points,
        {{ health_ratio_points('share_of_users_healthy', 1, w.healthy_users) }} as healthy_user_points
    from ratios

),

scored as (

    select
        *,
        round(
            recency_points + trend_points + breadth_points + seat_points + healthy_user_points
        )::int as health_score,
        {{ health_lowered_by([
            [health_recency_reason('days_since_active'), 'recency_points', w.recency],
            [health_trend_reason('active_user_days_last_14', 'active_user_days_prior_14'), 'trend_points', w.trend],
            [health_breadth_reason('features_used_last_30', 'typical_features_used'), 'breadth_points', w.breadth],
            [health_seats_reason('coalesce(seat_utilization, 0)'), 'seat_points', w.seats],
            [health_healthy_users_reason('share_of_users_healthy'), 'healthy_user_points', w.healthy_users],
        ]) }} as lowered_by
    from points

)

select
    tenant_id,
    tenant_name,
    plan,
    status,
    as_of_date,
    last_active_date,
    days_since_active,
    active_user_days_last_14,
    active_user_days_prior_14,
    features_used_last_30,
    typical_features_used,
    mau,
    licensed_seats,
    round(seat_utilization, 4) as seat_utilization,
    users_active_last_30,
    round(share_of_users_healthy, 4) as share_of_users_healthy,
    round(share_of_users_at_risk, 4) as share_of_users_at_risk,
    round(recency_points, 1) as recency_points,
    round(trend_points, 1) as trend_points,
    round(breadth_points, 1) as breadth_points,
    round(seat_points, 1) as seat_points,
    round(healthy_user_points, 1) as healthy_user_points,
    health_score,
    {{ health_band('health_score') }} as health_band,
    lowered_by
from scored
