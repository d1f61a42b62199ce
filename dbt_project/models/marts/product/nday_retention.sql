{#-
  D1 / D7 / D30 retention (the days in var nday_retention_days), per tenant and across
  all tenants (see the nday_retention doc block): of the users who signed up on a day,
  the share active on exactly day + N. A signup day has a row for N only once day + N
  has been loaded, so every row's denominator is complete.
-#}

with

users as (

    select * from {{ ref('dim_users') }}

),

user_days as (

    select * from {{ ref('fct_daily_user_activity') }}

),

last_loaded as (

    select max(activity_date) as last_loaded_day
    from user_days

),

day_numbers as (

    {% for day_number in var('nday_retention_days') %}
    select {{ day_number }} as day_number
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

eligible_users as (

    select
        users.tenant_id,
        users.user_id,
        users.signup_date,
        day_numbers.day_number,
        users.signup_date + day_numbers.day_number as target_date
    from users
    cross join day_numbers
    cross join last_loaded
    where users.signed_up_at is not null
        and users.signup_date + day_numbers.day_number <= last_loaded.last_loaded_day

),

active_days as (

    select
        tenant_id,
        user_id,
        activity_date
    from user_days
    where is_active

),

flagged as (

    select
        eligible_users.tenant_id,
        eligible_users.signup_date,
        eligible_users.day_number,
        active_days.user_id is not null as is_retained
    from eligible_users
    left join active_days
        on eligible_users.tenant_id = active_days.tenant_id
        and eligible_users.user_id = active_days.user_id
        and eligible_users.target_date = active_days.activity_date

),

aggregated as (

    select
        tenant_id,
        grouping(tenant_id) = 1 as is_all_tenants,
        signup_date,
        day_number,
        count(*)::int as eligible_users,
        count(*) filter (where is_retained)::int as retained_users
    from flagged
    group by grouping sets (
        (tenant_id, signup_date, day_number),
        (signup_date, day_number)
    )

)

select
    tenant_id,
    is_all_tenants,
    signup_date,
    day_number,
    eligible_users,
    retained_users,
    round(retained_users::numeric / eligible_users, 4) as retention_rate
from aggregated
