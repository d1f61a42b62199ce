with

user_days as (

    select * from "pulse_dev_a"."marts"."fct_daily_user_activity"

),

signups as (

    select * from "pulse_dev_a"."intermediate"."int_user_signups"

),

activity as (

    select
        tenant_id,
        user_id,
        min(first_event_at) as first_seen_at,
        min(first_active_at) as first_active_at,
        max(activity_date) filter (where is_active) as last_active_date,
        max(last_event_at) as last_seen_at,
        count(*) filter (where is_active)::int as active_days,
        sum(event_count)::bigint as events
    from user_days
    group by tenant_id, user_id

),

dated as (

    select
        activity.tenant_id,
        activity.user_id,
        coalesce(signups.signed_up_at, activity.first_active_at) as signed_up_at,
        case
            when signups.signed_up_at is not null then 'signup_event'
            when activity.first_active_at is not null then 'first_active_event'
        end as signup_dated_by,
        signups.signup_method,
        signups.invited_by_user_id,
        signups.utm_source,
        signups.utm_medium,
        signups.utm_campaign,
        signups.first_touch_channel,
        signups.last_touch_channel,
        signups.consent_ml_predictions,
        activity.first_seen_at,
        activity.last_seen_at,
        activity.last_active_date,
        activity.active_days,
        activity.events
    from activity
    left join signups
        on activity.tenant_id = signups.tenant_id
        and activity.user_id = signups.user_id

),

activation as (

    select
        dated.tenant_id,
        dated.user_id,
        min(user_days.first_activation_at) as activated_at
    from dated
    inner join user_days
        on dated.tenant_id = user_days.tenant_id
        and dated.user_id = user_days.user_id
        and user_days.first_activation_at >= dated.signed_up_at
        and user_days.first_activation_at
            < dated.signed_up_at + interval '7 days'
    group by dated.tenant_id, dated.user_id

)

select
    dated.tenant_id,
    dated.user_id,
    dated.signed_up_at,
    (dated.signed_up_at at time zone 'UTC')::date as signup_date,
    date_trunc('month', dated.signed_up_at at time zone 'UTC')::date as signup_month,
    date_trunc('week', dated.signed_up_at at time zone 'UTC')::date as signup_week,
    dated.signup_dated_by,
    dated.signup_method,
    dated.invited_by_user_id,
    activation.activated_at,
    activation.activated_at is not null as is_activated,
    dated.utm_source,
    dated.utm_medium,
    dated.utm_campaign,
    dated.first_touch_channel,
    dated.last_touch_channel,
    dated.consent_ml_predictions,
    dated.first_seen_at,
    dated.last_seen_at,
    dated.last_active_date,
    dated.active_days,
    dated.events
from dated
left join activation
    on dated.tenant_id = activation.tenant_id
    and dated.user_id = activation.user_id