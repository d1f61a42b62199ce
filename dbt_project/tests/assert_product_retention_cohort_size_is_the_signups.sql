{#- The cohort size is counted once per cohort, from the signups: the same on every
    period row and equal to the users dim_users puts in that signup month (week). A
    cohort size counted among each period's active users (retention always 100%) fails
    here. Returns the offending cohorts. -#}

with

users as (

    select * from {{ ref('dim_users') }}
    where signed_up_at is not null

),

monthly as (

    select
        'monthly' as grain,
        tenant_id,
        is_all_tenants,
        cohort_month as cohort_start,
        min(cohort_size) as min_cohort_size,
        max(cohort_size) as max_cohort_size
    from {{ ref('retention_monthly_cohorts') }}
    group by tenant_id, is_all_tenants, cohort_month

),

weekly as (

    select
        'weekly' as grain,
        tenant_id,
        is_all_tenants,
        cohort_week,
        min(cohort_size),
        max(cohort_size)
    from {{ ref('retention_weekly_cohorts') }}
    group by tenant_id, is_all_tenants, cohort_week

),

signups as (

    select
        'monthly' as grain,
        tenant_id,
        signup_month as cohort_start,
        count(*) as signed_up_users
    from users
    group by grouping sets ((tenant_id, signup_month), (signup_month))
    union all
    select
        'weekly',
        tenant_id,
        signup_week,
        count(*)
    from users
    group by grouping sets ((tenant_id, signup_week), (signup_week))

),

cohorts as (

    select * from monthly
    union all
    select * from weekly

)

select
    coalesce(cohorts.grain, signups.grain) as grain,
    coalesce(cohorts.tenant_id, signups.tenant_id) as tenant_id,
    coalesce(cohorts.cohort_start, signups.cohort_start) as cohort_start,
    cohorts.min_cohort_size,
    cohorts.max_cohort_size,
    signups.signed_up_users
from cohorts
full outer join signups
    on cohorts.grain = signups.grain
    and cohorts.tenant_id is not distinct from signups.tenant_id
    and cohorts.cohort_start = signups.cohort_start
where cohorts.min_cohort_size is distinct from cohorts.max_cohort_size
    or cohorts.max_cohort_size is distinct from signups.signed_up_users
    or cohorts.is_all_tenants is distinct from (cohorts.tenant_id is null)
