{#-
  Monthly signup-cohort retention, per tenant and across all tenants (see the
  retention_cohorts doc block). One row per cohort and period 0 .. last loaded month.
  The cohort size is counted from dim_users once per cohort, never from the users
  active in a period.
-#}

with

users as (

    select * from {{ ref('dim_users') }}

),

user_months as (

    select * from {{ ref('int_user_activity_months') }}

),

user_days as (

    select * from {{ ref('fct_daily_user_activity') }}

),

last_loaded as (

    select
        max(activity_date) as last_loaded_day,
        date_trunc('month', max(activity_date))::date as last_loaded_month
    from user_days

),

cohort_users as (

    select
        tenant_id,
        user_id,
        signup_month as cohort_month
    from users
    where signed_up_at is not null

),

cohorts as (

    select
        tenant_id,
        cohort_month,
        grouping(tenant_id) = 1 as is_all_tenants,
        count(*)::int as cohort_size
    from cohort_users
    group by grouping sets ((tenant_id, cohort_month), (cohort_month))

),

retained as (

    select
        cohort_users.tenant_id,
        cohort_users.cohort_month,
        user_months.activity_month as period_month,
        grouping(cohort_users.tenant_id) = 1 as is_all_tenants,
        count(*)::int as retained_users
    from cohort_users
    inner join user_months
        on cohort_users.tenant_id = user_months.tenant_id
        and cohort_users.user_id = user_months.user_id
        and user_months.activity_month >= cohort_users.cohort_month
    group by grouping sets (
        (cohort_users.tenant_id, cohort_users.cohort_month, user_months.activity_month),
        (cohort_users.cohort_month, user_months.activity_month)
    )

),

cohort_periods as (

    select
        cohorts.tenant_id,
        cohorts.is_all_tenants,
        cohorts.cohort_month,
        period_month::date as period_month,
        cohorts.cohort_size,
        last_loaded.last_loaded_day
    from cohorts
    cross join last_loaded
    cross join lateral generate_series(
        cohorts.cohort_month, last_loaded.last_loaded_month, interval '1 month'
    ) as period_month

)

select
    cohort_periods.tenant_id,
    cohort_periods.is_all_tenants,
    cohort_periods.cohort_month,
    (
        (extract(year from age(cohort_periods.period_month, cohort_periods.cohort_month)) * 12
        + extract(month from age(cohort_periods.period_month, cohort_periods.cohort_month)))
    )::int as period_number,
    cohort_periods.period_month,
    cohort_periods.cohort_size,
    coalesce(retained.retained_users, 0) as retained_users,
    round(coalesce(retained.retained_users, 0)::numeric / cohort_periods.cohort_size, 4)
        as retention_rate,
    (cohort_periods.period_month + interval '1 month - 1 day')::date
        > cohort_periods.last_loaded_day as is_period_in_progress
from cohort_periods
left join retained
    on cohort_periods.is_all_tenants = retained.is_all_tenants
    and cohort_periods.tenant_id is not distinct from retained.tenant_id
    and cohort_periods.cohort_month = retained.cohort_month
    and cohort_periods.period_month = retained.period_month
