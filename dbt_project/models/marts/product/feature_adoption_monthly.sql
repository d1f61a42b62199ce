{#-
  Feature adoption per tenant, feature and calendar month (see the feature_adoption doc
  block): every catalog feature for every month from the tenant's first month with
  events to the last loaded month, zeros included.
-#}

with

features as (

    select * from {{ ref('dim_features') }}

),

user_days as (

    select * from {{ ref('fct_daily_user_activity') }}

),

user_months as (

    select * from {{ ref('int_user_activity_months') }}

),

feature_days as (

    select * from {{ ref('int_user_feature_days') }}

),

first_uses as (

    select * from {{ ref('int_user_feature_first_use') }}

),

users as (

    select * from {{ ref('dim_users') }}

),

-- days from the signup day to the first use (0 when used on the signup day); null for
-- a user dim_users does not hold
first_use_delays as (

    select
        first_uses.tenant_id,
        first_uses.feature_name,
        first_uses.first_used_month,
        first_uses.first_used_date - users.signup_date as days_from_signup_to_first_use
    from first_uses
    left join users
        on first_uses.tenant_id = users.tenant_id
        and first_uses.user_id = users.user_id

),

last_loaded as (

    select
        max(activity_date) as last_loaded_day,
        date_trunc('month', max(activity_date))::date as last_loaded_month
    from user_days

),

tenant_first_months as (

    select
        tenant_id,
        date_trunc('month', min(activity_date))::date as first_month
    from user_days
    group by tenant_id

),

tenant_months as (

    select
        tenant_first_months.tenant_id,
        activity_month::date as activity_month
    from tenant_first_months
    cross join last_loaded
    cross join lateral generate_series(
        tenant_first_months.first_month, last_loaded.last_loaded_month, interval '1 month'
    ) as activity_month

),

spine as (

    select
        tenant_months.tenant_id,
        features.feature_name,
        tenant_months.activity_month
    from tenant_months
    cross join features

),

monthly_active_users as (

    select
        tenant_id,
        activity_month,
        count(*)::int as active_users
    from user_months
    group by tenant_id, activity_month

),

-- each user once per feature and month, then a count: hashed, where count(distinct)
-- would sort every feature-day row (docs/incremental.md)
user_feature_months as (

    select distinct
        tenant_id,
        feature_name,
        date_trunc('month', activity_date)::date as activity_month,
        user_id
    from feature_days

),

monthly_adopters as (

    select
        tenant_id,
        feature_name,
        activity_month,
        count(user_id)::int as adopters
    from user_feature_months
    group by tenant_id, feature_name, activity_month

),

adopted_to_date as (

    select
        spine.tenant_id,
        spine.feature_name,
        spine.activity_month,
        count(*)::int as cumulative_adopters,
        percentile_cont(0.5) within group (
            order by first_use_delays.days_from_signup_to_first_use
        ) as median_days_to_first_use
    from spine
    inner join first_use_delays
        on spine.tenant_id = first_use_delays.tenant_id
        and spine.feature_name = first_use_delays.feature_name
        and first_use_delays.first_used_month <= spine.activity_month
    group by spine.tenant_id, spine.feature_name, spine.activity_month

)

select
    spine.tenant_id,
    spine.feature_name,
    features.feature_category,
    features.is_core,
    spine.activity_month,
    coalesce(monthly_adopters.adopters, 0) as adopters,
    coalesce(monthly_active_users.active_users, 0) as active_users,
    case
        when monthly_active_users.active_users > 0
            then round(
                coalesce(monthly_adopters.adopters, 0)::numeric
                / monthly_active_users.active_users,
                4
            )
    end as adoption_rate,
    coalesce(adopted_to_date.cumulative_adopters, 0) as cumulative_adopters,
    adopted_to_date.median_days_to_first_use::numeric as median_days_to_first_use,
    (spine.activity_month + interval '1 month - 1 day')::date > last_loaded.last_loaded_day
        as is_month_in_progress
from spine
cross join last_loaded
inner join features
    on spine.feature_name = features.feature_name
left join monthly_active_users
    on spine.tenant_id = monthly_active_users.tenant_id
    and spine.activity_month = monthly_active_users.activity_month
left join monthly_adopters
    on spine.tenant_id = monthly_adopters.tenant_id
    and spine.feature_name = monthly_adopters.feature_name
    and spine.activity_month = monthly_adopters.activity_month
left join adopted_to_date
    on spine.tenant_id = adopted_to_date.tenant_id
    and spine.feature_name = adopted_to_date.feature_name
    and spine.activity_month = adopted_to_date.activity_month
