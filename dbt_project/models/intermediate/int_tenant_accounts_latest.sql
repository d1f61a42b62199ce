{#-
  Each tenant's most recent accounts export row: what the billing system says about the
  tenant tonight. Only the snapshot snap_tenant_accounts reads it (a YAML snapshot takes
  a relation, not a query, hence this ephemeral model). export_day_start is the export
  day as a timestamp: the snapshot dates versions by it, and dbt wants its `updated_at`
  to have the type of its own clock (timestamp), not date.
-#}
{{ config(materialized='ephemeral') }}

with

accounts as (

    select * from {{ ref('stg_pulse__accounts') }}

),

ranked as (

    select
        *,
        row_number() over (partition by tenant_id order by export_date desc) as recency_rank
    from accounts

)

select
    tenant_id,
    export_date,
    export_date::timestamp as export_day_start,
    tenant_name,
    plan,
    status,
    licensed_seats,
    monthly_event_limit,
    mrr,
    currency,
    created_on,
    churned_on
from ranked
where recency_rank = 1
