{#- daily_sessions and daily_session_lengths count every session of fct_sessions once,
    per tenant and day. Returns the tenant-days where a count disagrees. -#}

with

sessions as (

    select tenant_id, session_date, count(*) as sessions
    from {{ ref('fct_sessions') }}
    group by tenant_id, session_date

),

daily as (

    select tenant_id, session_date, sessions
    from {{ ref('daily_sessions') }}

),

lengths as (

    select tenant_id, session_date, sum(sessions) as sessions
    from {{ ref('daily_session_lengths') }}
    group by tenant_id, session_date

)

select
    coalesce(sessions.tenant_id, daily.tenant_id, lengths.tenant_id) as tenant_id,
    coalesce(sessions.session_date, daily.session_date, lengths.session_date) as session_date,
    sessions.sessions as fct_sessions,
    daily.sessions as daily_sessions,
    lengths.sessions as daily_session_lengths
from sessions
full outer join daily
    on sessions.tenant_id = daily.tenant_id
    and sessions.session_date = daily.session_date
full outer join lengths
    on coalesce(sessions.tenant_id, daily.tenant_id) = lengths.tenant_id
    and coalesce(sessions.session_date, daily.session_date) = lengths.session_date
where sessions.sessions is distinct from daily.sessions
    or sessions.sessions is distinct from lengths.sessions
