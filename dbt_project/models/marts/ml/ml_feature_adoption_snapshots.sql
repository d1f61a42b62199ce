{#-
  Adoption propensity labels: one row per user, snapshot day T and core feature the user
  had not used by the end of T, saying whether they first use it in (T, T + 30 days]
  (null while those days are not all loaded). Joined to ml_user_feature_snapshots on
  (tenant_id, user_id, snapshot_date) for the features. A view: only the users and days
  training reads are ever computed cheaply enough (0.7 s for all of peer).
-#}
{{ config(materialized='view') }}
{%- set horizon = var('churn_horizon_days') -%}

with

core_features as (

    select feature_name from {{ ref('dim_features') }}
    where is_core

),

first_use as (

    select * from {{ ref('int_user_feature_first_use') }}

),

last_day as (

    select max(activity_date) as last_day from {{ ref('fct_daily_user_activity') }}

),

spine as (

    select * from {{ ref('int_user_day_spine') }}

)

select
    spine.tenant_id,
    spine.user_id,
    spine.snapshot_date,
    core_features.feature_name,
    case when spine.snapshot_date + {{ horizon }} <= last_day.last_day
        then coalesce(first_use.first_used_date <= spine.snapshot_date + {{ horizon }}, false)
    end as adopted_next_30d
from spine
cross join core_features
cross join last_day
left join first_use
    on spine.tenant_id = first_use.tenant_id
    and spine.user_id = first_use.user_id
    and core_features.feature_name = first_use.feature_name
where first_use.first_used_date is null or first_use.first_used_date > spine.snapshot_date
