{#-
  Weekly signup-cohort retention (ISO weeks, Monday to Sunday), per tenant and across
  all tenants (see the retention_cohorts doc block). One row per cohort and period
  0 .. last loaded week.
  The cohort size is counted from dim_users once per cohort, never from the users
  active in a period.
-#}

with

users as (

    select * from {{ ref('dim_users') }}

),

user_weeks as (

    select * from {{ ref('int_user_activity_weeks') }}

),

user_days as (

    select * from {{ ref('fct_daily_user_activity') }}

),

last_loaded as (

    select
        max(activity_date) as last_loaded_day,
        date_trunc('week', max(activity_date))::date as last_loaded_week
    from user_days

),

cohort_users as (

    select
        tenant_id,
        user_id,
        signup_week as cohort_week
    from users
    where signed_up_at is not null

),

cohorts as (

    select
        tenant_id,
        cohort_week,
        grouping(tenant_id) = 1 as is_all_tenants,
        count(*)::int as cohort_size
    from cohort_users
    group by grouping sets ((tenant_id, cohort_week), (cohort_week))

),

retained as (

    select
        cohort_users.tenant_id,
        cohort_users.cohort_week,
        user_weeks.activity_week as period_week,
        grouping(cohort_users.tenant_id) = 1 as is_all_tenants,
        count(*)::int as retained_users
    from cohort_users
    inner join user_weeks
        on cohort_users.tenant_id = user_weeks.tenant_id
        and cohort_users.user_id = user_weeks.user_id
        and user_weeks.activity_week >= cohort_users.cohort_week
    group by grouping sets (
        (cohort_users.tenant_id, cohort_users.cohort_week, user_weeks.activity_week),
        (cohort_users.cohort_week, user_weeks.activity_week)
    )

),

cohort_periods as (

    select
        cohorts.tenant_id,
        cohorts.is_all_tenants,
        cohorts.cohort_week,
        period_week::date as period_week,
        cohorts.cohort_size,
        last_loaded.last_loaded_day
    from cohorts
    cross join last_loaded
    cross join lateral generate_series(
        cohorts.cohort_week, last_loaded.last_loaded_week, interval '1 week'
    ) as period_week

)

select
    cohort_periods.tenant_id,
    cohort_periods.is_all_tenants,
    cohort_periods.cohort_week,
    (cohort_periods.period_week - cohort_periods.cohort_week) / 7 as period_number,
    cohort_periods.period_week,
    cohort_periods.cohort_size,
    coalesce(retained.retained_users, 0) as retained_users,
    round(coalesce(retained.retained_users, 0)::numeric / cohort_periods.cohort_size, 4)
        as retention_rate,
    cohort_periods.period_week + 6 > cohort_periods.last_loaded_day as is_period_in_progress
from cohort_periods
left join retained
    on cohort_periods.is_all_tenants = retained.is_all_tenants
    and cohort_periods.tenant_id is not distinct from retained.tenant_id
    and cohort_periods.cohort_week = retained.cohort_week
    and cohort_periods.period_week = retained.period_week
