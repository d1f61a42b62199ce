{#- Signups and activated users per tenant, signup month and attribution. Definition:
    doc block `acquisition`. -#}

with

users as (

    select * from {{ ref('dim_users') }}

),

signups as (

    select * from {{ ref('int_user_signups') }}

),

attributed as (

    select
        users.tenant_id,
        users.signup_month,
        users.is_activated,
        -- users who declined marketing attribution are counted, their channels not shown
        coalesce(signups.consent_marketing_attribution, true) as may_attribute,
        users.first_touch_channel,
        users.last_touch_channel,
        users.utm_source,
        users.utm_campaign
    from users
    left join signups
        on users.tenant_id = signups.tenant_id
        and users.user_id = signups.user_id
    where users.signup_dated_by = 'signup_event'

),

labelled as (

    select
        tenant_id,
        signup_month,
        is_activated,
        case when may_attribute then coalesce(first_touch_channel, '(none)') else '(withheld)' end
            as first_touch_channel,
        case when may_attribute then coalesce(last_touch_channel, '(none)') else '(withheld)' end
            as last_touch_channel,
        case when may_attribute then coalesce(utm_source, '(none)') else '(withheld)' end
            as utm_source,
        case when may_attribute then coalesce(utm_campaign, '(none)') else '(withheld)' end
            as utm_campaign
    from attributed

)

select
    tenant_id,
    signup_month,
    first_touch_channel,
    last_touch_channel,
    utm_source,
    utm_campaign,
    count(*)::int as signups,
    count(*) filter (where is_activated)::int as activated_users,
    round(count(*) filter (where is_activated)::numeric / count(*), 4) as activation_rate
from labelled
group by
    tenant_id,
    signup_month,
    first_touch_channel,
    last_touch_channel,
    utm_source,
    utm_campaign
