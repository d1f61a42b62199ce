{#-
  How long sessions last, per tenant and UTC day: how many sessions lasted each length,
  rounded to 0.1 minute (6 s). Medians and other percentiles over any set of tenants and
  days come from the running count over lengths (docs/dashboards.md, "Aggregates for
  cards"), exact to 0.1 minute, without reading every session. Rebuilt whole each night
  from fct_sessions, like daily_sessions.
-#}
{{
    config(
        indexes=[
            {'columns': ['tenant_id', 'session_date', 'duration_minutes'], 'unique': True},
            {'columns': ['session_date']},
        ],
    )
}}

with

sessions as (

    select * from {{ ref('fct_sessions') }}

),

rounded as (

    select
        tenant_id,
        session_date,
        round(duration_seconds / 60.0, 1) as duration_minutes
    from sessions

)

select
    tenant_id,
    session_date,
    duration_minutes,
    count(*)::int as sessions
from rounded
group by tenant_id, session_date, duration_minutes
