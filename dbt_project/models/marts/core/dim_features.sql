{#- The product's features (feature catalog seed) with their usage to date, plus the
    unknown member 'uncatalogued' that fct_events maps unlisted feature names to. -#}

with

catalog as (

    select feature_name, category, is_core, description
    from {{ ref('feature_catalog') }}

    union all

    select
        'uncatalogued',
        'uncatalogued',
        false,
        'Feature names the feature catalog does not list (see the quality gate''s'
        || ' uncatalogued_share warning for the names sent)'

),

usage as (

    select
        feature_name,
        min(first_used_at) as first_used_at,
        -- a row value counted distinct: sqlfluff reads distinct as a function
        count(distinct (tenant_id, user_id))::int as users_to_date,  -- noqa: ST08, LT01, LT06
        count(distinct tenant_id)::int as tenants_to_date
    from {{ ref('int_user_feature_days') }}
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
