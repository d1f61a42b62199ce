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

feature_days as (

    select * from {{ ref('int_user_feature_days') }}

),

-- one row per feature and user first, then a count: count(distinct) sorts every
-- feature-day row, the grouping hashes them (about 5x faster on the peer data set,
-- docs/incremental.md)
feature_users as (

    select
        feature_name,
        tenant_id,
        user_id,
        min(first_used_at) as first_used_at
    from feature_days
    group by feature_name, tenant_id, user_id

),

usage as (

    select
        feature_name,
        min(first_used_at) as first_used_at,
        count(*)::int as users_to_date,
        count(distinct tenant_id)::int as tenants_to_date
    from feature_users
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
