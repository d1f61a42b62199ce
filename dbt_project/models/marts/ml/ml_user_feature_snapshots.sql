{#-
  Point-in-time feature snapshots for the churn, LTV and propensity models: one row per
  user and snapshot day T, from the user's first event day to the last loaded day. Every
  feature uses only data of days <= T; the labels (what happened in (T, T + 30 days]) are
  null while those 30 days are not all loaded. Definition: doc block `ml_scoring`.

  Incremental by snapshot day (docs/incremental.md): a night replaces the snapshot days
  from `window_from` on, every user's, whole. `feature_from` is the first day whose
  features new data can change: the first activity day written since this model's
  newest row (or the first day not yet snapshotted); window_from is {{ horizon }} days
  earlier, since a new day completes the labels of the {{ horizon }} days before it.
  Features are computed from feature_from on, their rolling windows reading the
  {{ context_days }} days before it; what runs from the user's first day ("to date")
  starts from the user's state before those days: the stored row of the day before
  them, and the features first used before them (int_user_feature_first_use), so no
  earlier day of activity is read again. The rows of the days in between keep their
  stored features and get their labels again, from the running total of active days the
  rolling windows use (their days are among the context days); those whose next
  {{ horizon }} days are not all loaded yet keep their stored rows, unwritten (null labels
  before and after). Nothing when nothing is new. A full refresh is the same SQL with
  both days at -infinity. Of the rows a night recomputes, only those that changed are
  written (macros/changed_rows_delete_insert.sql): a kept row's `_updated_at` is the
  night it last changed.
  Rolling windows run over a dense user x day spine, so "the last 7 days" is "the last 7
  rows": a running total less the running total 7 rows back; distinct-feature counts use
  +1 / -1 steps, like MAU in fct_daily_tenant_activity. A user with no event in the
  context days has only zeros to roll: the spine gives them only the days written and
  the days whose labels complete, and their windows and labels come out 0 all the same
  (docs/incremental.md, "Users with nothing to roll"). What a row takes from its tenant
  is computed once per tenant and day.
-#}
{{
    config(
        materialized='incremental',
        unique_key='snapshot_date',
        incremental_strategy='changed_rows_delete_insert',
        row_key=['tenant_id', 'user_id', 'snapshot_date'],
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
{%- set horizon = var('churn_horizon_days') | int -%}
{#- the longest rolling window below (last_30) reaches 29 days back -#}
{%- set context_days = 30 -%}
{%- if context_days < horizon -%}
    {#- the label days' rows and tenant rows come from the days the rolling windows read -#}
    {{ exceptions.raise_compiler_error('ml_user_feature_snapshots: context_days < churn_horizon_days') }}
{%- endif -%}
{%- set window_from = pulse_snapshot_window_from(horizon) -%}
{%- set keeps_rows = window_from not in ("'-infinity'::date", "'infinity'::date") -%}
{%- if window_from == "'-infinity'::date" -%}
    {%- set feature_from, context_from, prior_until = window_from, window_from, window_from -%}
{%- elif window_from == "'infinity'::date" -%}
    {#- nothing new: read nothing -#}
    {%- set feature_from, context_from, prior_until = window_from, window_from, "'-infinity'::date" -%}
{%- else -%}
    {%- set feature_from = "(" ~ window_from ~ " + " ~ horizon ~ ")" -%}
    {%- set context_from = "(" ~ feature_from ~ " - " ~ context_days ~ ")" -%}
    {%- set prior_until = context_from -%}
{%- endif -%}

with

user_days as (

    select * from {{ ref('fct_daily_user_activity') }}
    where activity_date >= {{ context_from }}

),

feature_days as (

    select * from {{ ref('int_user_feature_days') }}
    where activity_date >= {{ context_from }}

),

first_uses as (

    select * from {{ ref('int_user_feature_first_use') }}

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

last_loaded as (

    select max(activity_date) as last_day from {{ ref('fct_daily_user_activity') }}

),

{%- if keeps_rows %}

-- the users with an event in the context days: a day with sessions or feature uses is a
-- day with events (all three come from fct_events), so fct_daily_user_activity says it
context_users as (

    select tenant_id, user_id
    from {{ ref('fct_daily_user_activity') }}
    where activity_date >= {{ context_from }}

),
{%- endif %}

-- every user's days from the first context day; a user with no event in them (the longer
-- the history, the more of those ever seen) has nothing to roll, so only the days this
-- run computes and the days whose labels complete tonight are read for them, not every
-- context day (docs/incremental.md, "Users with nothing to roll")
spine as (

    select * from {{ ref('int_user_day_spine') }}
    where snapshot_date >= {{ context_from }}
    {%- if keeps_rows %}
        and (
            snapshot_date >= {{ feature_from }}
            or (snapshot_date >= {{ window_from }}
                and snapshot_date + {{ horizon }} <= (select last_day from last_loaded))
            or (tenant_id, user_id) in (select tenant_id, user_id from context_users)
        )
    {%- endif %}

),

-- each user's state before the context days, for what runs from their first day
-- (nothing on a full refresh): the stored row of the day before them, whose data no new
-- row touched (feature_from is the first day that changed), rather than every earlier
-- day of activity again
prior_activity as (
    {%- if keeps_rows %}

    select
        tenant_id,
        user_id,
        active_days_to_date as active_days,
        snapshot_date - days_since_active as last_active_date
    from {{ this }}
    where snapshot_date = {{ prior_until }} - 1
    {%- else %}

    select null::text as tenant_id, null::text as user_id, null::bigint as active_days,
        null::date as last_active_date
    where false
    {%- endif %}

),

-- the features a user used before the context days: those first used before them
prior_feature_counts as (

    select tenant_id, user_id, count(*) as features_used
    from first_uses
    where first_used_date < {{ prior_until }}
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
-- (a use before the context days has ended by feature_from, so only the context days'
-- uses are needed)
feature_uses as (

    select
        tenant_id,
        user_id,
        activity_date,
        lead(activity_date) over (
            partition by tenant_id, user_id, feature_name
            order by activity_date
        ) as next_use_date
    from feature_days

),

-- the breadth's steps, and +1 to the features used to date on each feature's first day
-- (its first use day is one of the feature days read when it is in the context days;
-- those before them are prior_feature_counts), taken from the first uses themselves
-- rather than by joining each feature day with its feature's first use
breadth_steps as (

    select tenant_id, user_id, step_date, sum(breadth_30_step) as breadth_30_step,
        sum(breadth_to_date_step) as breadth_to_date_step
    from (
        select tenant_id, user_id, activity_date as step_date, 1 as breadth_30_step,
            0 as breadth_to_date_step
        from feature_uses
        union all
        select tenant_id, user_id, least(activity_date + 30, coalesce(next_use_date, activity_date + 30)),
            -1, 0
        from feature_uses
        union all
        select tenant_id, user_id, first_used_date, 0, 1
        from first_uses
        where first_used_date >= {{ context_from }}
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
        coalesce(prior_feature_counts.features_used, 0) as prior_features_used,
        consent.consent_ml_predictions
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
    left join consent
        on spine.tenant_id = consent.tenant_id
        and spine.user_id = consent.user_id
        and spine.snapshot_date >= consent.valid_from
        and (consent.valid_to is null or spine.snapshot_date < consent.valid_to)

),

-- running totals from the first day read: one pass over each user's days
cumulative as (

    select
        daily.*,
        max(snapshot_date) filter (where is_active) over to_date as last_active_in_days_read,
        count(*) filter (where is_active) over to_date as active_days_cum,
        sum(events) over to_date as events_cum,
        sum(feature_uses) over to_date as feature_uses_cum,
        sum(sessions) over to_date as sessions_cum,
        sum(session_seconds) over to_date as session_seconds_cum,
        sum(breadth_30_step) over to_date as breadth_30_cum,
        sum(breadth_to_date_step) over to_date as breadth_to_date_cum
    from daily
    window to_date as (partition by tenant_id, user_id order by snapshot_date
        rows between unbounded preceding and current row)

),

-- the rolling windows as differences of running totals: the spine has one row per day, so
-- "the last 7 days" is the total now less the total 7 rows back (0 before the first row,
-- as a frame of 7 rows would count); one more pass instead of one per window size
rolled as (

    select
        tenant_id,
        user_id,
        snapshot_date,
        signup_date,
        activated_at,
        consent_ml_predictions,
        coalesce(last_active_in_days_read, prior_last_active_date) as last_active_date,
        coalesce(prior_active_days, 0) + active_days_cum as active_days_to_date,
        active_days_cum - lag(active_days_cum, 7, 0::bigint) over by_day as active_days_last_7,
        active_days_cum - lag(active_days_cum, 14, 0::bigint) over by_day as active_days_last_14,
        active_days_cum - lag(active_days_cum, 28, 0::bigint) over by_day as active_days_last_28,
        active_days_cum - lag(active_days_cum, 30, 0::bigint) over by_day as active_days_last_30,
        events_cum - lag(events_cum, 7, 0::bigint) over by_day as events_last_7,
        events_cum - lag(events_cum, 30, 0::bigint) over by_day as events_last_30,
        feature_uses_cum - lag(feature_uses_cum, 30, 0::bigint) over by_day
            as feature_uses_last_30,
        sessions_cum - lag(sessions_cum, 7, 0::bigint) over by_day as sessions_last_7,
        sessions_cum - lag(sessions_cum, 30, 0::bigint) over by_day as sessions_last_30,
        session_seconds_cum - lag(session_seconds_cum, 30, 0::numeric) over by_day
            as session_seconds_last_30,
        breadth_30_cum as features_used_last_30,
        prior_features_used + breadth_to_date_cum as features_used_to_date,
        -- labels: the active days among the next {{ horizon }}, known once they are all
        -- loaded (the spine runs to the last loaded day: the running total
        -- {{ horizon }} rows on, less today's; a user with nothing to roll has neither
        -- every day's row nor any active day, so none)
        snapshot_date + {{ horizon }} <= (select last_day from last_loaded)
            as next_{{ horizon }}_days_loaded,
        coalesce(lead(active_days_cum, {{ horizon }}) over by_day, active_days_cum)
            - active_days_cum as active_days_next_{{ horizon }}
    from cumulative
    window by_day as (partition by tenant_id, user_id order by snapshot_date)

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
        {{ plan_rank('plan') }} as plan_rank
    from tenants

),

-- what a user's row takes from their tenant, computed once per tenant and day rather
-- than once per user and day, and only for the days this run writes
tenant_snapshot_days as (

    select distinct tenant_id, snapshot_date
    from rolled
    where snapshot_date >= {{ window_from }}

),

-- the best plan a tenant moves to within the label horizon after each day; grouped, so
-- it is computed per tenant and day, not for each user's row
tenant_plan_ahead as (

    select
        days.tenant_id,
        days.snapshot_date,
        max(later.plan_rank) as best_plan_rank
    from tenant_snapshot_days as days
    inner join plans as later
        on days.tenant_id = later.tenant_id
        and later.valid_from > days.snapshot_date
        and later.valid_from <= days.snapshot_date + {{ horizon }}
    group by days.tenant_id, days.snapshot_date

),

tenant_at as (

    select
        days.tenant_id,
        days.snapshot_date,
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
            as tenant_active_user_days_prior_14
    from tenant_snapshot_days as days
    left join plans as plan_at
        on days.tenant_id = plan_at.tenant_id
        and days.snapshot_date >= plan_at.valid_from
        and (plan_at.valid_to is null or days.snapshot_date < plan_at.valid_to)
    left join tenant_rolled
        on days.tenant_id = tenant_rolled.tenant_id
        and days.snapshot_date = tenant_rolled.activity_date
    where days.snapshot_date >= {{ feature_from }}

),

with_tenant as (

    select
        rolled.*,
        tenant_at.tenant_plan,
        tenant_at.tenant_plan_rank,
        tenant_at.tenant_status,
        tenant_at.tenant_mrr,
        tenant_at.tenant_licensed_seats,
        tenant_at.tenant_mau,
        tenant_at.tenant_active_user_days_last_14,
        tenant_at.tenant_active_user_days_prior_14
    from rolled
    inner join tenant_at
        on rolled.tenant_id = tenant_at.tenant_id
        and rolled.snapshot_date = tenant_at.snapshot_date
    -- tenant_at's days: said again here, where it keeps the context days out of the join's
    -- sort (the planner does not carry a range through the join's equality)
    where rolled.snapshot_date >= {{ feature_from }}

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

),

-- the rows of the days whose features this run computes
computed_rows as (

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
        features.next_{{ horizon }}_days_loaded,
        features.active_days_next_{{ horizon }}
    from features
    left join plan_breadth
        on features.snapshot_date = plan_breadth.snapshot_date
        and features.tenant_plan is not distinct from plan_breadth.tenant_plan
    where features.snapshot_date >= {{ feature_from }}

),

{%- set feature_columns = [
    'tenant_id', 'user_id', 'snapshot_date', 'consent_ml_predictions', 'is_active_customer',
    'days_since_active', 'active_days_last_7', 'active_days_last_14', 'active_days_prior_14',
    'activity_trend', 'active_days_last_30', 'active_days_to_date', 'events_last_7',
    'events_last_30', 'feature_uses_last_30', 'sessions_last_7', 'sessions_last_30',
    'avg_session_minutes_last_30', 'features_used_last_30', 'features_used_to_date',
    'tenure_days', 'is_activated', 'tenant_plan', 'tenant_plan_rank', 'tenant_status',
    'tenant_mrr', 'tenant_licensed_seats', 'tenant_mau', 'tenant_seat_utilization',
    'tenant_active_user_days_last_14', 'tenant_active_user_days_prior_14',
    'tenant_activity_trend', 'rule_health_score',
] %}

{%- set label_columns = ['next_' ~ horizon ~ '_days_loaded', 'active_days_next_' ~ horizon] %}

-- the days between window_from and feature_from: new data changes only their labels,
-- and only those whose next {{ horizon }} days are all loaded get any; the others keep
-- their stored rows, unwritten (null labels before and after; the spine runs to the last
-- loaded day for every user, so this holds for all of a day's rows or none)
all_rows as (

    -- both sides by the one list of names, so they line up column for column
    select {{ (feature_columns + label_columns) | join(', ') }}
    from computed_rows
    {%- if keeps_rows %}

    union all

    -- each relabelled row's stored row through the key index, by itself: a few thousand
    -- rows, where a hash join read every stored row of those days (512,081 on the xl
    -- night for 5,679 relabelled; docs/incremental.md)
    select
        {%- for column in feature_columns %}
        stored.{{ column }},
        {%- endfor %}
        {%- for column in label_columns %}
        relabelled.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from rolled as relabelled
    cross join lateral (
        select *
        from {{ this }} as kept
        where kept.tenant_id = relabelled.tenant_id
            and kept.user_id = relabelled.user_id
            and kept.snapshot_date = relabelled.snapshot_date
        offset 0
    ) as stored
    where relabelled.snapshot_date >= {{ window_from }}
        and relabelled.snapshot_date < {{ feature_from }}
        and relabelled.next_{{ horizon }}_days_loaded
    {%- endif %}

)

select
    {%- for column in feature_columns %}
    all_rows.{{ column }},
    {%- endfor %}
    -- labels (null until the {{ horizon }} days after snapshot_date are loaded)
    case when all_rows.next_{{ horizon }}_days_loaded
        then all_rows.active_days_next_{{ horizon }} = 0 end as churned_next_{{ horizon }}d,
    case when all_rows.next_{{ horizon }}_days_loaded
        then coalesce(plan_ahead.best_plan_rank > all_rows.tenant_plan_rank, false)
    end as upgraded_next_{{ horizon }}d,
    now() as _updated_at
from all_rows
left join tenant_plan_ahead as plan_ahead
    on all_rows.tenant_id = plan_ahead.tenant_id
    and all_rows.snapshot_date = plan_ahead.snapshot_date
