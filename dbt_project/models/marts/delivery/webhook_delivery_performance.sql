{#-
  Webhook delivery performance per tenant, event type and day (doc block
  `webhook_delivery_performance`; docs/delivery.md, "Delivery performance").

  A view: deliveries happen all day (the pulse_delivery DAG runs every few minutes), so a
  table built by the nightly run would always be a day behind.
-#}
{{ config(materialized='view') }}

with

messages as (

    select * from {{ ref('stg_pulse_delivery__messages') }}

),

outbox as (

    select * from {{ ref('stg_pulse_delivery__outbox') }}

),

attempts as (

    select * from {{ ref('stg_pulse_delivery__attempts') }}

),

deliveries as (

    select
        m.tenant_id,
        m.event_type,
        m.announced_on,
        count(*) as deliveries,
        count(*) filter (where o.status = 'SUCCESS') as delivered,
        count(*) filter (where o.status = 'ABANDONED') as abandoned,
        count(*) filter (where o.status = 'FAILED') as failed,
        count(*) filter (where o.status in ('PENDING', 'SENDING', 'RETRYING')) as in_progress
    from outbox as o
    inner join messages as m
        on o.message_id = m.message_id
    group by 1, 2, 3

),

timings as (

    select
        m.tenant_id,
        m.event_type,
        m.announced_on,
        count(*) as attempts,
        avg(a.duration_ms) as avg_duration_ms,
        percentile_cont(0.95) within group (order by a.duration_ms) as p95_duration_ms
    from attempts as a
    inner join messages as m
        on a.message_id = m.message_id
    group by 1, 2, 3

)

select
    d.tenant_id,
    d.event_type,
    d.announced_on,
    d.deliveries::bigint as deliveries,
    d.delivered::bigint as delivered,
    d.abandoned::bigint as abandoned,
    d.failed::bigint as failed,
    d.in_progress::bigint as in_progress,
    round(d.delivered::numeric / nullif(d.deliveries - d.in_progress, 0), 4) as success_rate,
    coalesce(t.attempts, 0)::bigint as attempts,
    round(t.avg_duration_ms::numeric, 1) as avg_duration_ms,
    round(t.p95_duration_ms::numeric, 1) as p95_duration_ms
from deliveries as d
left join timings as t
    on t.tenant_id = d.tenant_id
    and t.event_type = d.event_type
    and t.announced_on = d.announced_on
