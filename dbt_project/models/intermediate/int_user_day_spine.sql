{#-
  One row per user and day, from the user's first event day to the last loaded day: the
  grid the ML snapshots (features, adoption labels) are computed on, written once.
  Ephemeral: each model that reads it inlines it.
-#}
{{ config(materialized='ephemeral') }}

with

users as (

    select * from {{ ref('dim_users') }}

),

last_day as (

    select max(activity_date) as last_day from {{ ref('fct_daily_user_activity') }}

)

select
    users.tenant_id,
    users.user_id,
    users.signup_date,
    users.activated_at,
    day::date as snapshot_date
from users
cross join last_day
cross join lateral generate_series(
    (users.first_seen_at at time zone 'UTC')::date, last_day.last_day, interval '1 day'
) as day
