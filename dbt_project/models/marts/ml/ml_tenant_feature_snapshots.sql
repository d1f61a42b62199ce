{#-
  Point-in-time tenant snapshots for the tenant churn model, the upgrade propensity and
  the LTV backtest: one row per tenant and snapshot day T, from the tenant's first event
  day to the last loaded day. Every feature uses data of days <= T only (the billing
  export's version valid on T, activity up to T); the labels look at (T, T + horizon]
  and are null until the export covers those days. Definition: doc block
  `ml_tenant_scoring`; docs/scoring.md ("Tenant churn").

  One row per (tenant_id, snapshot_date), driven by the day, so an incremental build
  only has to add the new days and re-label the last `tenant_churn_horizon_days`.
-#}
{{ config(materialized='table',
          indexes=[{'columns': ['tenant_id', 'snapshot_date'], 'unique': True},
                   {'columns': ['snapshot_date']}]) }}
{%- set s = health_settings() -%}
{%- set w = s.tenant_weights -%}
{%- set horizon = var('tenant_churn_horizon_days') -%}
{%- set revenue_days = var('tenant_ltv_backtest_days') -%}

with

tenant_days as (

    select * from {{ ref('fct_daily_tenant_activity') }}

),

versions as (

    select * from {{ ref('dim_tenants') }}

),

feature_days as (

    select * from {{ ref('int_user_feature_days') }}

),

events as (

    select * from {{ ref('fct_events') }}

),

user_snapshots as (

    select * from {{ ref('ml_user_feature_snapshots') }}

),

accounts as (

    select * from {{ ref('stg_pulse__accounts') }}

),

exported_through as (

    select max(export_date) as last_export_date from accounts

),

support_days as (

    select tenant_id, event_date, count(*)::int as tickets
    from events
    where event_category = 'support'
    group by tenant_id, event_date

),

tenant_feature_days as (

    select distinct tenant_id, feature_name, activity_date
    from feature_days

),

-- Distinct features a tenant used in the {{ s.breadth_window_days }} days up to T, as
-- fct_daily_tenant_activity counts MAU: each day a feature was used opens a span of the
-- days whose window holds it, up to the day before its next use, so one feature's spans
-- never overlap and the count is a running sum of +1 / -1 steps. Linear in feature-days,
-- where a join of each day with its window's days grows with the window (3 s of this
-- model's 5 s on the peer data set before; docs/incremental.md).
feature_spans as (

    select
        tenant_id,
        activity_date as span_from,
        least(
            activity_date + {{ s.breadth_window_days - 1 }},
            lead(activity_date) over (
                partition by tenant_id, feature_name order by activity_date
            ) - 1
        ) as span_to
    from tenant_feature_days

),

-- every tenant day (step 0), so the running sum has a row for each of them
breadth_steps as (

    select tenant_id, activity_date as step_date, 0 as step from tenant_days
    union all
    select tenant_id, span_from, 1 from feature_spans
    union all
    select tenant_id, span_to + 1, -1 from feature_spans

),

breadth_changes as (

    select
        tenant_id,
        step_date,
        sum(step) as change
    from breadth_steps
    group by tenant_id, step_date

),

breadth as (

    select
        tenant_id,
        step_date as snapshot_date,
        sum(change) over (partition by tenant_id order by step_date)::int
            as features_used_last_30
    from breadth_changes

),

users_healthy as (

    select
        tenant_id,
        snapshot_date,
        count(*) filter (where is_active_customer)::int as users_active_last_30,
        count(*) filter (
            where is_active_customer and rule_health_score >= {{ s.healthy_from }}
        )::int as healthy_users
    from user_snapshots
    group by tenant_id, snapshot_date

),

rolled as (

    select
        d.tenant_id,
        d.activity_date as snapshot_date,
        d.mau,
        d.events,
        min(d.activity_date) over by_tenant as first_day,
        max(case when d.dau > 0 then d.activity_date end) over by_tenant as last_active_date,
        sum(d.dau) over (by_tenant rows between 13 preceding and current row)
            as active_user_days_last_14,
        sum(d.dau) over (by_tenant rows between 27 preceding and current row)
            - sum(d.dau) over (by_tenant rows between 13 preceding and current row)
            as active_user_days_prior_14,
        sum(d.events) over (
            partition by d.tenant_id, date_trunc('month', d.activity_date)
            order by d.activity_date
        ) as events_month_to_date,
        coalesce(sum(sd.tickets) over (by_tenant rows between 29 preceding and current row), 0)
            as support_tickets_last_30
    from tenant_days as d
    left join support_days as sd
        on sd.tenant_id = d.tenant_id
        and sd.event_date = d.activity_date
    window by_tenant as (partition by d.tenant_id order by d.activity_date)

),

plans as (

    select
        tenant_id,
        valid_from,
        valid_to,
        plan,
        status,
        mrr,
        licensed_seats,
        monthly_event_limit,
        {{ plan_rank('plan') }} as plan_rank
    from versions

),

with_plan as (

    select
        rolled.*,
        plan_at.plan,
        plan_at.plan_rank,
        plan_at.status,
        plan_at.mrr,
        plan_at.licensed_seats,
        plan_at.monthly_event_limit,
        -- MRR 30 days before T: a contraction already under way
        (
            select earlier.mrr
            from plans as earlier
            where earlier.tenant_id = rolled.tenant_id
                and earlier.valid_from <= rolled.snapshot_date - 30
            order by earlier.valid_from desc
            limit 1
        ) as mrr_30_days_before
    from rolled
    left join plans as plan_at
        on rolled.tenant_id = plan_at.tenant_id
        and rolled.snapshot_date >= plan_at.valid_from
        and (plan_at.valid_to is null or rolled.snapshot_date < plan_at.valid_to)

),

features as (

    select
        with_plan.*,
        (with_plan.snapshot_date - with_plan.last_active_date)::int as days_since_active,
        (with_plan.snapshot_date - with_plan.first_day)::int as tenure_days,
        coalesce(breadth.features_used_last_30, 0) as features_used_last_30,
        least(1, with_plan.mau::numeric / nullif(with_plan.licensed_seats, 0))
            as seat_utilization,
        with_plan.events_month_to_date::numeric / nullif(with_plan.monthly_event_limit, 0)
            as quota_pressure,
        users_healthy.users_active_last_30,
        users_healthy.healthy_users::numeric
            / nullif(users_healthy.users_active_last_30, 0) as share_of_users_healthy
    from with_plan
    left join breadth
        on with_plan.tenant_id = breadth.tenant_id
        and with_plan.snapshot_date = breadth.snapshot_date
    left join users_healthy
        on with_plan.tenant_id = users_healthy.tenant_id
        and with_plan.snapshot_date = users_healthy.snapshot_date

),

plan_breadth as (

    -- tenant_health_scores' peer breadth, as of each day
    select
        snapshot_date,
        plan,
        {{ health_peer_breadth('features_used_last_30') }} as typical_features_used
    from features
    where features_used_last_30 > 0
    group by snapshot_date, plan

),

outcomes as (

    select
        f.tenant_id,
        f.snapshot_date,
        f.snapshot_date + {{ horizon }} <= x.last_export_date as horizon_known,
        f.snapshot_date + {{ revenue_days }} <= x.last_export_date as revenue_known,
        exists (  -- noqa: LT01, LT06
            select 1 from plans as later
            where later.tenant_id = f.tenant_id
                and later.valid_from > f.snapshot_date
                and later.valid_from <= f.snapshot_date + {{ horizon }}
                and (later.status = 'churned' or later.mrr < f.mrr)
        ) as lost_revenue,
        exists (  -- noqa: LT01, LT06
            select 1 from plans as later
            where later.tenant_id = f.tenant_id
                and later.valid_from > f.snapshot_date
                and later.valid_from <= f.snapshot_date + {{ horizon }}
                and later.plan_rank > f.plan_rank
        ) as upgraded,
        -- revenue earned in (T, T + revenue_days]: each version's MRR for the days it
        -- covers, a month counted as 30 days
        (
            select coalesce(sum(v.mrr * greatest(0,
                least(coalesce(v.valid_to, f.snapshot_date + {{ revenue_days }} + 1),
                      f.snapshot_date + {{ revenue_days }} + 1)
                - greatest(v.valid_from, f.snapshot_date + 1))), 0) / 30.0
            from plans as v
            where v.tenant_id = f.tenant_id
                and v.valid_from <= f.snapshot_date + {{ revenue_days }}
                and (v.valid_to is null or v.valid_to > f.snapshot_date + 1)
        ) as revenue_next
    from features as f
    cross join exported_through as x

)

select
    features.tenant_id,
    features.snapshot_date,
    -- who the model is for: paying tenants (trials and churned tenants have no MRR to lose)
    coalesce(features.status = 'active' and features.mrr > 0, false) as is_paying_customer,
    features.plan,
    features.status,
    -- features (as of the end of snapshot_date)
    features.plan_rank,
    features.mrr,
    round(features.mrr - coalesce(features.mrr_30_days_before, features.mrr), 2)
        as mrr_change_last_30,
    features.licensed_seats,
    features.mau,
    round(features.seat_utilization, 4) as seat_utilization,
    features.days_since_active,
    features.tenure_days,
    features.active_user_days_last_14,
    features.active_user_days_prior_14,
    {{ activity_trend('features.active_user_days_last_14',
                      'features.active_user_days_prior_14') }} as usage_trend,
    features.features_used_last_30,
    round(features.quota_pressure, 4) as quota_pressure,
    features.support_tickets_last_30,
    round(features.share_of_users_healthy, 4) as share_of_users_healthy,
    -- tenant_health_scores' rule-based score, as of snapshot_date
    round(
        {{ health_recency_points('features.days_since_active', w.recency) }}
        + {{ health_trend_points('features.active_user_days_last_14', 'features.active_user_days_prior_14', w.trend) }}
        + {{ health_ratio_points('features.features_used_last_30', 'coalesce(plan_breadth.typical_features_used, 1)', w.breadth) }}
        + {{ health_ratio_points('features.seat_utilization', 1, w.seats) }}
        + {{ health_ratio_points('features.share_of_users_healthy', 1, w.healthy_users) }}
    )::int as rule_health_score,
    -- labels (null until the export covers the days after snapshot_date)
    {{ horizon }} as horizon_days,
    case when outcomes.horizon_known then outcomes.lost_revenue end as churned_within_horizon,
    case when outcomes.horizon_known then outcomes.upgraded end as upgraded_within_horizon,
    case when outcomes.revenue_known then round(outcomes.revenue_next, 2) end
        as revenue_next_{{ revenue_days }}d
from features
left join plan_breadth
    on features.snapshot_date = plan_breadth.snapshot_date
    and features.plan = plan_breadth.plan
inner join outcomes
    on features.tenant_id = outcomes.tenant_id
    and features.snapshot_date = outcomes.snapshot_date
