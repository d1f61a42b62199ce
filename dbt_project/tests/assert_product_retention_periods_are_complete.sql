{#- Every retention cohort has one row per period from 0 to the last loaded month
    (week), none missing, none after; retained users never exceed the cohort; and the
    all-tenants rows add up the tenant rows. Returns the offending cohorts. -#}

with

last_loaded as (

    select max(activity_date) as last_loaded_day
    from {{ ref('fct_daily_user_activity') }}

),

monthly as (

    select
        'monthly' as grain,
        tenant_id,
        cohort_month as cohort_start,
        count(*) as periods,
        min(period_number) as first_period,
        max(period_number) as last_period,
        max(period_month) as last_period_start,
        bool_or(retained_users > cohort_size) as has_retained_above_cohort
    from {{ ref('retention_monthly_cohorts') }}
    group by tenant_id, cohort_month

),

weekly as (

    select
        'weekly' as grain,
        tenant_id,
        cohort_week,
        count(*),
        min(period_number),
        max(period_number),
        max(period_week),
        bool_or(retained_users > cohort_size)
    from {{ ref('retention_weekly_cohorts') }}
    group by tenant_id, cohort_week

),

cohorts as (

    select * from monthly
    union all
    select * from weekly

),

monthly_sums as (

    select
        cohort_month,
        period_number,
        sum(cohort_size) filter (where not is_all_tenants) as tenants_cohort_size,
        sum(retained_users) filter (where not is_all_tenants) as tenants_retained,
        sum(cohort_size) filter (where is_all_tenants) as all_cohort_size,
        sum(retained_users) filter (where is_all_tenants) as all_retained
    from {{ ref('retention_monthly_cohorts') }}
    group by cohort_month, period_number

)

select
    cohorts.grain,
    cohorts.tenant_id,
    cohorts.cohort_start,
    'periods missing, extra or out of range' as problem
from cohorts
cross join last_loaded
where cohorts.first_period <> 0
    or cohorts.periods <> cohorts.last_period + 1
    or cohorts.last_period_start <> case
        when cohorts.grain = 'monthly' then date_trunc('month', last_loaded.last_loaded_day)::date
        else date_trunc('week', last_loaded.last_loaded_day)::date
    end
    or cohorts.has_retained_above_cohort

union all

select
    'monthly',
    null,
    cohort_month,
    'all-tenants rows differ from the sum of tenant rows'
from monthly_sums
where tenants_cohort_size is distinct from all_cohort_size
    or tenants_retained is distinct from all_retained
