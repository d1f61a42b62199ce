{#-
  Signup-cohort retention and the user activity it reads, written once for both grains
  (see the retention_cohorts doc block). `period` is 'month' (calendar months) or
  'week' (ISO weeks, Monday to Sunday); columns are named after it (cohort_month,
  period_month / cohort_week, period_week).
-#}

{% macro user_activity_periods(period) %}

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
    date_trunc('{{ period }}', activity_date)::date as activity_{{ period }},
    count(*)::int as active_days
from active_days
group by tenant_id, user_id, date_trunc('{{ period }}', activity_date)::date

{% endmacro %}


{% macro retention_cohorts(period, user_periods_model) %}
{%- set cohort = 'cohort_' ~ period -%}
{%- set at = 'period_' ~ period -%}

with

users as (

    select * from {{ ref('dim_users') }}

),

user_periods as (

    select * from {{ ref(user_periods_model) }}

),

user_days as (

    select * from {{ ref('fct_daily_user_activity') }}

),

last_loaded as (

    select
        max(activity_date) as last_loaded_day,
        date_trunc('{{ period }}', max(activity_date))::date as last_loaded_period
    from user_days

),

cohort_users as (

    select
        tenant_id,
        user_id,
        signup_{{ period }} as {{ cohort }}
    from users
    where signed_up_at is not null

),

cohorts as (

    select
        tenant_id,
        {{ cohort }},
        grouping(tenant_id) = 1 as is_all_tenants,
        count(*)::int as cohort_size
    from cohort_users
    group by grouping sets ((tenant_id, {{ cohort }}), ({{ cohort }}))

),

retained as (

    select
        cohort_users.tenant_id,
        cohort_users.{{ cohort }},
        user_periods.activity_{{ period }} as {{ at }},
        grouping(cohort_users.tenant_id) = 1 as is_all_tenants,
        count(*)::int as retained_users
    from cohort_users
    inner join user_periods
        on cohort_users.tenant_id = user_periods.tenant_id
        and cohort_users.user_id = user_periods.user_id
        and user_periods.activity_{{ period }} >= cohort_users.{{ cohort }}
    group by grouping sets (
        (cohort_users.tenant_id, cohort_users.{{ cohort }}, user_periods.activity_{{ period }}),
        (cohort_users.{{ cohort }}, user_periods.activity_{{ period }})
    )

),

cohort_periods as (

    select
        cohorts.tenant_id,
        cohorts.is_all_tenants,
        cohorts.{{ cohort }},
        series.{{ at }}::date as {{ at }},
        cohorts.cohort_size,
        last_loaded.last_loaded_day
    from cohorts
    cross join last_loaded
    cross join lateral generate_series(
        cohorts.{{ cohort }}, last_loaded.last_loaded_period, interval '1 {{ period }}'
    ) as series ({{ at }})

)

select
    cohort_periods.tenant_id,
    cohort_periods.is_all_tenants,
    cohort_periods.{{ cohort }},
    {%- if period == 'month' %}
    (
        (extract(year from age(cohort_periods.{{ at }}, cohort_periods.{{ cohort }})) * 12
        + extract(month from age(cohort_periods.{{ at }}, cohort_periods.{{ cohort }})))
    )::int as period_number,
    {%- else %}
    (cohort_periods.{{ at }} - cohort_periods.{{ cohort }}) / 7 as period_number,
    {%- endif %}
    cohort_periods.{{ at }},
    cohort_periods.cohort_size,
    coalesce(retained.retained_users, 0) as retained_users,
    round(coalesce(retained.retained_users, 0)::numeric / cohort_periods.cohort_size, 4)
        as retention_rate,
    (cohort_periods.{{ at }} + interval '1 {{ period }} - 1 day')::date
        > cohort_periods.last_loaded_day as is_period_in_progress
from cohort_periods
left join retained
    on cohort_periods.is_all_tenants = retained.is_all_tenants
    and cohort_periods.tenant_id is not distinct from retained.tenant_id
    and cohort_periods.{{ cohort }} = retained.{{ cohort }}
    and cohort_periods.{{ at }} = retained.{{ at }}

{% endmacro %}
