{#- One row per user and ISO week (Monday to Sunday) in which the user was active on at
    least one day: the building block of weekly retention. -#}

with

user_days as (

    select * from {{ ref('fct_daily_user_activity') }}

),

active_days as (

    select
        tenant_id,
        user_id,
        activity_date
    from user_days
    where is_active

)

select
    tenant_id,
    user_id,
    date_trunc('week', activity_date)::date as activity_week,
    count(*)::int as active_days
from active_days
group by tenant_id, user_id, date_trunc('week', activity_date)::date
