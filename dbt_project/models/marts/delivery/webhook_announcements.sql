{#-
  What the webhooks announce for each day (doc block `webhook_announcements`).

  A view, not a table: the nightly run scores users after dbt has built the marts, and
  fill_outbox reads this view after scoring, so the day's scores are seen when they exist.
-#}
{{ config(materialized='view') }}
{#- a deployment may set its own threshold without editing the project -#}
{%- set threshold = env_var('PULSE_WEBHOOK_AT_RISK_THRESHOLD',
                            var('webhook_at_risk_threshold') | string) | float -%}

with

scores as (

    select
        *,
        lag(churn_probability) over (
            partition by tenant_id, user_id order by scored_at
        ) as previous_probability
    from {{ ref('stg_pulse_ml__ml_features') }}

),

at_risk as (

    select
        md5('user.at_risk|' || tenant_id || '|' || user_id || '|' || scored_at) as message_id,
        tenant_id,
        'user.at_risk'::text as event_type,
        user_id,
        scored_at as announced_on,
        jsonb_build_object(
            'object_type', 'user',
            'object_id', user_id,
            'action', 'churn_risk_detected',
            'churn_probability', churn_probability,
            'previous_churn_probability', previous_probability,
            'threshold', {{ threshold }},
            'risk_band', risk_band,
            'risk_factors', top_factors,
            'model_version', model_version
        ) as payload
    from scores
    -- a crossing: at or above the line now, below it (or never scored) the time before
    where churn_probability >= {{ threshold }}
      and (previous_probability is null or previous_probability < {{ threshold }})

),

tenant_days as (

    select * from {{ ref('fct_daily_tenant_activity') }}

),

tenant_versions as (

    select * from {{ ref('dim_tenants') }}

),

month_to_date as (

    select
        d.tenant_id,
        d.activity_date,
        t.plan,
        t.monthly_event_limit,
        sum(d.events) over (
            partition by d.tenant_id, date_trunc('month', d.activity_date)
            order by d.activity_date
        ) as events_month_to_date,
        d.events
    from tenant_days as d
    inner join tenant_versions as t
        on t.tenant_id = d.tenant_id
        and d.activity_date >= t.valid_from
        and (t.valid_to is null or d.activity_date < t.valid_to)

),

quota_exceeded as (

    select
        md5('usage.quota_exceeded|' || tenant_id || '|'
            || to_char(activity_date, 'YYYY-MM') || '|' || monthly_event_limit) as message_id,
        tenant_id,
        'usage.quota_exceeded'::text as event_type,
        null::text as user_id,
        activity_date as announced_on,
        jsonb_build_object(
            'object_type', 'tenant',
            'object_id', tenant_id,
            'action', 'monthly_event_limit_exceeded',
            'plan', plan,
            'monthly_event_limit', monthly_event_limit,
            'events_month_to_date', events_month_to_date,
            'month', to_char(activity_date, 'YYYY-MM')
        ) as payload
    from month_to_date
    -- the day the month's count passes the limit: over it now, not the day before
    where monthly_event_limit is not null
      and events_month_to_date > monthly_event_limit
      and events_month_to_date - events <= monthly_event_limit

),

health as (

    select * from {{ ref('tenant_health_scores') }}

),

failing_endpoints as (

    select
        tenant_id,
        jsonb_agg(
            jsonb_build_object(
                'endpoint_id', endpoint_id,
                'disabled_at', disabled_at,
                'detail', disabled_detail
            ) order by endpoint_id
        ) as endpoints
    from {{ ref('stg_pulse_delivery__endpoints') }}
    where disabled_reason = 'failing'
    group by tenant_id

),

digest as (

    select
        md5('tenant.daily_digest|' || d.tenant_id || '|' || d.activity_date) as message_id,
        d.tenant_id,
        'tenant.daily_digest'::text as event_type,
        null::text as user_id,
        d.activity_date as announced_on,
        jsonb_build_object(
            'object_type', 'tenant',
            'object_id', d.tenant_id,
            'action', 'daily_digest',
            'dau', d.dau,
            'wau', d.wau,
            'mau', d.mau,
            'stickiness', d.stickiness,
            'events', d.events,
            'licensed_seats', d.licensed_seats,
            -- the health score describes the last loaded day only
            'health_score', h.health_score,
            'health_band', h.health_band,
            'endpoints_disabled_for_failing', coalesce(f.endpoints, '[]'::jsonb)
        ) as payload
    from tenant_days as d
    left join health as h
        on h.tenant_id = d.tenant_id
        and h.as_of_date = d.activity_date
    left join failing_endpoints as f
        on f.tenant_id = d.tenant_id

)

select * from at_risk
union all
select * from quota_exceeded
union all
select * from digest
