{#-
  Sessions per tenant and UTC day (the day a session starts), for charts: the
  aggregate the engagement dashboard reads instead of scanning every session
  (docs/dashboards.md, "Aggregates for cards"). Rebuilt whole each night from
  fct_sessions, so a late event that merges or moves sessions, a consent withdrawal or an
  erasure reaches it with the next build.
-#}
{{
    config(
        indexes=[
            {'columns': ['tenant_id', 'session_date'], 'unique': True},
            {'columns': ['session_date']},
        ],
    )
}}

with

sessions as (

    select * from {{ ref('fct_sessions') }}

),

-- per user first, then per day: count(distinct user_id) would sort every session, the
-- two groupings hash them (docs/incremental.md)
user_days as (

    select
        tenant_id,
        session_date,
        user_id,
        count(*) as sessions,
        count(*) filter (where session_source = 'client') as client_sessions,
        count(*) filter (where session_source = 'inferred') as inferred_sessions,
        sum(duration_seconds) as total_duration_seconds
    from sessions
    group by tenant_id, session_date, user_id

)

select
    tenant_id,
    session_date,
    sum(sessions)::int as sessions,
    count(user_id)::int as users,
    sum(client_sessions)::int as client_sessions,
    sum(inferred_sessions)::int as inferred_sessions,
    sum(total_duration_seconds)::bigint as total_duration_seconds
from user_days
group by tenant_id, session_date
