{#- Every scored user is a user of dim_users (the pair tenant_id, user_id), and every
    user of dim_users with an active day is scored. Returns the users that break it. -#}

with

user_scores as (

    select * from {{ ref('user_health_scores') }}

),

users as (

    select * from {{ ref('dim_users') }}
    where last_active_date is not null

)

select
    coalesce(user_scores.tenant_id, users.tenant_id) as tenant_id,
    coalesce(user_scores.user_id, users.user_id) as user_id,
    case when users.user_id is null then 'not in dim_users' else 'not scored' end as problem
from user_scores
full outer join users
    on user_scores.tenant_id = users.tenant_id
    and user_scores.user_id = users.user_id
where user_scores.user_id is null or users.user_id is null
