{#-
  Daily active users per tenant. A user is active on a day when they have at least one
  event that day whose name the event catalog marks counts_as_active.

  Incremental: the run window is the staged events written since this model's newest
  row; every (tenant, day) they touch is recomputed from all of that day's events, so
  late events land in the right day and a full refresh gives the same rows.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['tenant_id', 'activity_date'],
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['tenant_id', 'activity_date'], 'unique': True}],
    )
}}

with

events as (

    select * from {{ ref('stg_pulse__events') }}

),

catalog as (

    select * from {{ ref('event_catalog') }}

),

touched_days as (

    select distinct tenant_id, event_date
    from events
    where {{ pulse_new_rows() }}

),

active_events as (

    select
        events.tenant_id,
        events.event_date,
        events.user_id
    from events
    inner join catalog
        on events.event_name = catalog.event_name
    {% if is_incremental() %}
    inner join touched_days
        on events.tenant_id = touched_days.tenant_id
        and events.event_date = touched_days.event_date
    {% endif %}
    where catalog.counts_as_active

),

daily as (

    select
        tenant_id,
        event_date as activity_date,
        count(distinct user_id)::int as active_users,
        count(*)::bigint as active_events,
        now() as _updated_at
    from active_events
    group by tenant_id, event_date

)

select * from daily
