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

)

select
    tenant_id,
    session_date,
    count(*)::int as sessions,
    count(distinct user_id)::int as users,
    (count(*) filter (where session_source = 'client'))::int as client_sessions,
    (count(*) filter (where session_source = 'inferred'))::int as inferred_sessions,
    sum(duration_seconds)::bigint as total_duration_seconds
from sessions
group by tenant_id, session_date
