{#-
  Point-in-time feature snapshots for the churn, LTV and propensity models: one row per
  user and snapshot day T, from the user's first event day to the last loaded day. Every
  feature uses only data of days <= T; the labels (what happened in (T, T + 30 days]) are
  null while those 30 days are not all loaded. Definition: doc block `ml_scoring`.

  Incremental by snapshot day (docs/incremental.md): a night recomputes the snapshot
  days from `window_from` on, every user's, and replaces those days whole. window_from is
  the first day whose features or labels new data can change: the first activity day
  written since this model's newest row, less the label horizon (a new day completes
  the labels of the {{ horizon }} days before it); nothing when nothing is new. The
  rolling windows read the {{ context_days }} days before window_from; what runs from
  the user's first day ("to date") starts from the user's state before those days. A
  full refresh is the same SQL with window_from at -infinity.
  Rolling windows run over a dense user x day spine, so "the last 7 days" is "the last 7
  rows"; distinct-feature counts use +1 / -1 steps, like MAU in fct_daily_tenant_activity.
-#}
{{
    config(
        materialized='incremental',
        unique_key='snapshot_date',
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['snapshot_date']},
            {'columns': ['tenant_id', 'user_id', 'snapshot_date'], 'unique': True},
        ],
        post_hook="{{ ml_consent_post_hook() }}",
    )
}}
{%- set s = health_settings() -%}
{%- set w = s.user_weights -%}
{#- churned at T = not active in (T, T + churn_horizon_days], docs/scoring.md -#}
{%- set horizon = var('churn_horizon_days') -%}
{#- the longest rolling window below (last_30) reaches 29 days back -#}
{%- set context_days = 30 -%}
{%- set window_from = pulse_snapshot_window_from(horizon) -%}
{%- if window_from == "'-infinity'::date" -%}
    {%- set context_from, prior_until = window_from, window_from -%}
{%- elif window_from == "'infinity'::date" -%}
    {#- nothing new: read nothing -#}
    {%- set context_from, prior_until = window_from, "'-infinity'::date" -%}
{%- else -%}
    {%- set context_from = "(" ~ window_from ~ " - " ~ context_days ~ ")" -%}
    {%- set prior_until = context_from -%}
{%- endif -%}

with

all_user_days as (

    select * from {{ ref('fct_daily_user_activity') }}

),

user_days as (

    select * from all_user_days
    where activity_date >= {{ context_from }}

),

all_feature_days as (

    select * from {{ ref('int_user_feature_days') }}

),

feature_days as (

    select * from all_feature_days
    where activity_date >= {{ context_from }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}
    where session_date >= {{ context_from }}

),

tenant_days as (

    select * from {{ ref('fct_daily_tenant_activity') }}
    where activity_date >= {{ context_from }}

),

tenants as (

    select * from {{ ref('dim_tenants') }}

),

consent as (

    select * from {{ ref('ml_user_consent_periods') }}

),

spine as (

    select * from {{ ref('int_user_day_spine') }}
    where snapshot_date >= {{ context_from }}

),

-- each user's state before the context days, for what runs from their first day
-- (nothing on a full refresh)
prior_activity as (

    select
        tenant_id,
        user_id,
        count(*) filter (where is_active) as active_days,
        max(activity_date) filter (where is_active) as last_active_date
    from all_user_days
    where activity_date < {{ prior_until }}
    group by tenant_id, user_id

),

prior_features as (

    select distinct tenant_id, user_id, feature_name
    from all_feature_days
    where activity_date < {{ prior_until }}

),

prior_feature_counts as (

    select tenant_id, user_id, count(*) as features_used
    from prior_features
    group by tenant_id, user_id

),

session_days as (

    select
        tenant_id,
        user_id,
        session_date,
        count(*)::int as sessions,
        sum(duration_seconds)::bigint as session_seconds
    from sessions
    group by tenant_id, user_id, session_date

),

-- a feature used on day a counts in the 30-day breadth from a to the day before its next
-- use or a + 29, whichever comes first: +1 at a, -1 at the end
-- (a use before the context days has ended by window_from, so only the context days'
-- uses are needed)
feature_uses as (

    select
        feature_days.tenant_id,
        feature_days.user_id,
        feature_days.feature_name,
        feature_days.activity_date,
        lead(feature_days.activity_date) over (
            partition by feature_days.tenant_id, feature_days.user_id, feature_days.feature_name
            order by feature_days.activity_date
        ) as next_use_date,
        prior_features.feature_name is null
        and feature_days.activity_date = min(feature_days.activity_date) over (
            partition by feature_days.tenant_id, feature_days.user_id, feature_days.feature_name
        ) as is_first_use
    from feature_days
    left join prior_features
        on feature_days.tenant_id = prior_features.tenant_id
        and feature_days.user_id = prior_features.user_id
        and feature_days.feature_name = prior_features.feature_name

),

breadth_steps as (

    select tenant_id, user_id, step_date, sum(breadth_30_step) as breadth_30_step,
        sum(breadth_to_date_step) as breadth_to_date_step
    from (
        select tenant_id, user_id, activity_date as step_date, 1 as breadth_30_step,
            case when is_first_use then 1 else 0 end as breadth_to_date_step
        from feature_uses
        union all
        select tenant_id, user_id, least(activity_date + 30, coalesce(next_use_date, activity_date + 30)),
            -1, 0
        from feature_uses
    ) as steps
    group by tenant_id, user_id, step_date

),

daily as (

    select
        spine.*,
        coalesce(user_days.is_active, false) as is_active,
        coalesce(user_days.event_count, 0) as events,
        coalesce(user_days.feature_use_count, 0) as feature_uses,
        coalesce(session_days.sessions, 0) as sessions,
        coalesce(session_days.session_seconds, 0) as session_seconds,
        coalesce(breadth_steps.breadth_30_step, 0) as breadth_30_step,
        coalesce(breadth_steps.breadth_to_date_step, 0) as breadth_to_date_step,
        prior_activity.active_days as prior_active_days,
        prior_activity.last_active_date as prior_last_active_date,
        coalesce(prior_feature_counts.features_used, 0) as prior_features_used
    from spine
    left join user_days
        on spine.tenant_id = user_days.tenant_id
        and spine.user_id = user_days.user_id
        and spine.snapshot_date = user_days.activity_date
    left join session_days
        on spine.tenant_id = session_days.tenant_id
        and spine.user_id = session_days.user_id
        and spine.snapshot_date = session_days.session_date
    left join breadth_steps
        on spine.tenant_id = breadth_steps.tenant_id
        and spine.user_id = breadth_steps.user_id
        and spine.snapshot_date = breadth_steps.step_date
    left join prior_activity
        on spine.tenant_id = prior_activity.tenant_id
        and spine.user_id = prior_activity.user_id
    left join prior_feature_counts
        on spine.tenant_id = prior_feature_counts.tenant_id
        and spine.user_id = prior_feature_counts.user_id

),

rolled as (

    select
        tenant_id,
        user_id,
        snapshot_date,
        signup_date,
        activated_at,
        coalesce(max(snapshot_date) filter (where is_active) over to_date,
            prior_last_active_date) as last_active_date,
        coalesce(prior_active_days, 0)
            + count(*) filter (where is_active) over to_date as active_days_to_date,
        count(*) filter (where is_active) over last_7 as active_days_last_7,
        count(*) filter (where is_active) over last_14 as active_days_last_14,
        count(*) filter (where is_active) over last_28 as active_days_last_28,
        count(*) filter (where is_active) over last_30 as active_days_last_30,
        sum(events) over last_7 as events_last_7,
        sum(events) over last_30 as events_last_30,
        sum(feature_uses) over last_30 as feature_uses_last_30,
        sum(sessions) over last_7 as sessions_last_7,
        sum(sessions) over last_30 as sessions_last_30,
        sum(session_seconds) over last_30 as session_seconds_last_30,
        sum(breadth_30_step) over to_date as features_used_last_30,
        prior_features_used + sum(breadth_to_date_step) over to_date as features_used_to_date,
        -- labels: the next {{ horizon }} days, known only once they are all loaded
        count(*) filter (where is_active) over next_horizon as active_days_next_{{ horizon }},
        count(*) over next_horizon as days_loaded_next_{{ horizon }}
    from daily
    window
        to_date as (partition by tenant_id, user_id order by snapshot_date
            rows between unbounded preceding and current row),
        last_7 as (partition by tenant_id, user_id order by snapshot_date
            rows between 6 preceding and current row),
        last_14 as (partition by tenant_id, user_id order by snapshot_date
            rows between 13 preceding and current row),
        last_28 as (partition by tenant_id, user_id order by snapshot_date
            rows between 27 preceding and current row),
        last_30 as (partition by tenant_id, user_id order by snapshot_date
            rows between 29 preceding and current row),
        next_horizon as (partition by tenant_id, user_id order by snapshot_date
            rows between 1 following and {{ horizon }} following)

),

tenant_rolled as (

    select
        tenant_id,
        activity_date,
        mau,
        licensed_seats,
        sum(dau) over (partition by tenant_id order by activity_date
            rows between 13 preceding and current row) as tenant_active_user_days_last_14,
        sum(dau) over (partition by tenant_id order by activity_date
            rows between 27 preceding and current row) as tenant_active_user_days_last_28
    from tenant_days

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
        case plan when 'starter' then 1 when 'professional' then 2 when 'enterprise' then 3 end
            as plan_rank
    from tenants

),

with_tenant as (

    select
        rolled.*,
        plan_at.plan as tenant_plan,
        plan_at.plan_rank as tenant_plan_rank,
        plan_at.status as tenant_status,
        plan_at.mrr as tenant_mrr,
        coalesce(tenant_rolled.licensed_seats, plan_at.licensed_seats) as tenant_licensed_seats,
        coalesce(tenant_rolled.mau, 0) as tenant_mau,
        coalesce(tenant_rolled.tenant_active_user_days_last_14, 0)
            as tenant_active_user_days_last_14,
        coalesce(tenant_rolled.tenant_active_user_days_last_28, 0)
            - coalesce(tenant_rolled.tenant_active_user_days_last_14, 0)
            as tenant_active_user_days_prior_14,
        consent.consent_ml_predictions,
        (
            select max(later.plan_rank)
            from plans as later
            where later.tenant_id = rolled.tenant_id
                and later.valid_from > rolled.snapshot_date
                and later.valid_from <= rolled.snapshot_date + {{ horizon }}
        ) as best_plan_rank_next_{{ horizon }}
    from rolled
    left join plans as plan_at
        on rolled.tenant_id = plan_at.tenant_id
        and rolled.snapshot_date >= plan_at.valid_from
        and (plan_at.valid_to is null or rolled.snapshot_date < plan_at.valid_to)
    left join tenant_rolled
        on rolled.tenant_id = tenant_rolled.tenant_id
        and rolled.snapshot_date = tenant_rolled.activity_date
    left join consent
        on rolled.tenant_id = consent.tenant_id
        and rolled.user_id = consent.user_id
        and rolled.snapshot_date >= consent.valid_from
        and (consent.valid_to is null or rolled.snapshot_date < consent.valid_to)

),

features as (

    select
        with_tenant.*,
        (snapshot_date - last_active_date)::int as days_since_active,
        active_days_last_28 - active_days_last_14 as active_days_prior_14,
        greatest(0, snapshot_date - signup_date)::int as tenure_days,
        coalesce(activated_at at time zone 'UTC' < snapshot_date + 1, false) as is_activated,
        case when sessions_last_30 > 0
            then round(session_seconds_last_30::numeric / sessions_last_30 / 60, 2)
        end as avg_session_minutes_last_30,
        least(1, tenant_mau::numeric / nullif(tenant_licensed_seats, 0)) as tenant_seat_utilization
    from with_tenant

),

plan_breadth as (

    -- the rule-based score's peer breadth, as of each day
    select
        snapshot_date,
        tenant_plan,
        {{ health_peer_breadth('features_used_last_30') }} as typical_features_used
    from features
    where features_used_last_30 > 0
    group by snapshot_date, tenant_plan

)

select
    features.tenant_id,
    features.user_id,
    features.snapshot_date,
    features.consent_ml_predictions is true as consent_ml_predictions,
    features.active_days_last_30 > 0 as is_active_customer,
    -- features (as of the end of snapshot_date)
    features.days_since_active,
    features.active_days_last_7,
    features.active_days_last_14,
    features.active_days_prior_14,
    -- -1 (stopped) .. 0 (steady) .. 1 (started): the last 14 days against the 14 before
    {{ activity_trend('features.active_days_last_14', 'features.active_days_prior_14') }}
        as activity_trend,
    features.active_days_last_30,
    features.active_days_to_date,
    features.events_last_7,
    features.events_last_30,
    features.feature_uses_last_30,
    features.sessions_last_7,
    features.sessions_last_30,
    features.avg_session_minutes_last_30,
    features.features_used_last_30,
    features.features_used_to_date,
    features.tenure_days,
    features.is_activated,
    features.tenant_plan,
    features.tenant_plan_rank,
    features.tenant_status,
    features.tenant_mrr,
    features.tenant_licensed_seats,
    features.tenant_mau,
    round(features.tenant_seat_utilization, 4) as tenant_seat_utilization,
    features.tenant_active_user_days_last_14,
    features.tenant_active_user_days_prior_14,
    {{ activity_trend('features.tenant_active_user_days_last_14',
                      'features.tenant_active_user_days_prior_14') }} as tenant_activity_trend,
    -- the rule-based health score of user_health_scores, as of snapshot_date
    round(
        {{ health_recency_points('features.days_since_active', w.recency) }}
        + {{ health_trend_points('features.active_days_last_14', 'features.active_days_prior_14', w.trend) }}
        + {{ health_ratio_points('features.features_used_last_30', 'coalesce(plan_breadth.typical_features_used, 1)', w.breadth) }}
    )::int as rule_health_score,
    -- labels (null until the {{ horizon }} days after snapshot_date are loaded)
    case when features.days_loaded_next_{{ horizon }} = {{ horizon }}
        then features.active_days_next_{{ horizon }} = 0 end as churned_next_{{ horizon }}d,
    case when features.days_loaded_next_{{ horizon }} = {{ horizon }}
        then coalesce(features.best_plan_rank_next_{{ horizon }} > features.tenant_plan_rank, false)
    end as upgraded_next_{{ horizon }}d,
    now() as _updated_at
from features
left join plan_breadth
    on features.snapshot_date = plan_breadth.snapshot_date
    and features.tenant_plan is not distinct from plan_breadth.tenant_plan
where features.snapshot_date >= {{ window_from }}
