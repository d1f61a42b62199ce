with

catalog as (

    select * from "pulse_dev_a"."reference"."feature_catalog"

),

usage as (

    select
        feature_name,
        min(first_used_at) as first_used_at,
        count(distinct (tenant_id, user_id))::int as users_to_date,
        count(distinct tenant_id)::int as tenants_to_date
    from "pulse_dev_a"."intermediate"."int_user_feature_days"
    group by feature_name

)

select
    catalog.feature_name,
    catalog.category as feature_category,
    catalog.is_core,
    catalog.description,
    usage.first_used_at,
    coalesce(usage.users_to_date, 0) as users_to_date,
    coalesce(usage.tenants_to_date, 0) as tenants_to_date
from catalog
left join usage on catalog.feature_name = usage.feature_name