{#- Daily, weekly and monthly active users per tenant, for charts: the days on which the
    tenant had at least one active user. The computation lives in
    fct_daily_tenant_activity; this is the analyst-facing cut of it. -#}
{{ config(materialized='view') }}

with

tenant_days as (

    select * from {{ ref('fct_daily_tenant_activity') }}

)

select
    tenant_id,
    activity_date,
    dau as active_users,
    wau as weekly_active_users,
    mau as monthly_active_users,
    stickiness
from tenant_days
where dau > 0
